package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/noctua-obs/noctua/config"
)

const tokenUsage = `usage:
  noctua token new        print a new random token and its hash
  noctua token hash [TOK] print the hash of TOK (or of the line read from standard input),
                          to be put in auth.tokens[].token in place of the token itself`

// tokenCmd creates tokens and hashes them for the configuration, so that
// the file holds no secret.
func tokenCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return errors.New("token: no subcommand given")
	}
	switch args[0] {
	case "new":
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		tok := base64.RawURLEncoding.EncodeToString(b)
		fmt.Fprintf(stdout, "token: %s\nhash:  %s\n", tok, config.HashToken(tok))
		return nil
	case "hash":
		tok := ""
		if len(args) > 1 {
			tok = args[1]
		} else {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("token hash: %w", err)
			}
			tok = strings.TrimSpace(line)
		}
		if len(tok) < 8 {
			return errors.New("token hash: a token must be at least 8 characters")
		}
		fmt.Fprintln(stdout, config.HashToken(tok))
		return nil
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, tokenUsage)
		return nil
	}
	fmt.Fprintln(stderr, tokenUsage)
	return fmt.Errorf("token: unknown subcommand %q", args[0])
}

var stdin io.Reader = os.Stdin
