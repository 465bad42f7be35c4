package transform

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/noctua-obs/noctua/config"
)

// Classifier maps error codes to business / application / system by the
// configuration's taxonomy: exact codes first, then patterns in order, then
// the failed request's HTTP status, then the default class.
type Classifier struct {
	exact    map[string]string
	patterns []classPattern
	status   map[string]string
	dflt     string
}

type classPattern struct {
	re    *regexp.Regexp
	class string
}

// NewClassifier compiles the taxonomy.
func NewClassifier(e config.Errors) (*Classifier, error) {
	c := &Classifier{exact: map[string]string{}, status: e.StatusClasses, dflt: e.DefaultClass}
	for i, r := range e.Rules {
		if r.Code != "" {
			if _, dup := c.exact[r.Code]; !dup {
				c.exact[r.Code] = r.Class
			}
			continue
		}
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("errors.rules[%d].pattern: %w", i, err)
		}
		c.patterns = append(c.patterns, classPattern{re, r.Class})
	}
	return c, nil
}

// Class returns the class of a failed request with this code and status.
func (c *Classifier) Class(code string, status int) string {
	if code != "" {
		if class, ok := c.exact[code]; ok {
			return class
		}
		for _, p := range c.patterns {
			if p.re.MatchString(code) {
				return p.class
			}
		}
		return c.dflt
	}
	if status >= 100 && status <= 599 {
		if class, ok := c.status[strconv.Itoa(status)]; ok {
			return class
		}
		if class, ok := c.status[strconv.Itoa(status/100)+"xx"]; ok {
			return class
		}
	}
	return c.dflt
}
