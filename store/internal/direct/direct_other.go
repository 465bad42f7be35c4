//go:build !linux

package direct

import (
	"errors"
	"os"
)

func openDirect(string, int, os.FileMode) (*os.File, error) {
	return nil, errors.New("direct: O_DIRECT is Linux only")
}
