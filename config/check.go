package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// ErrNoDomains is reported by Check for a configuration with no domain: it
// would monitor nothing (every service would land in "unassigned").
var ErrNoDomains = errors.New("domains: at least one domain is needed (a configuration without domains monitors nothing)")

// Check is Parse for `noctua check-config`: it reports every problem at
// once, each with its field path, YAML type errors and unknown fields
// included (yaml.v3 stops at none of them but names only their line, so
// each is given the path of the node on that line), and also refuses a
// configuration with no domain.
func Check(b []byte) (*Config, error) { return parse(b, true) }

// parse is Parse, and Check when requireDomains is set.
func parse(b []byte, requireDomains bool) (*Config, error) {
	c, probs := decode(b)
	if c == nil {
		return nil, errors.Join(probs...)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			probs = append(probs, flatten(err)...)
		} else {
			probs = append(probs, err)
		}
	}
	if requireDomains && len(c.Domains) == 0 {
		probs = append(probs, ErrNoDomains)
	}
	if len(probs) == 0 {
		return c, nil
	}
	return nil, fmt.Errorf("%w (%d problems):\n%w", ErrInvalid, len(probs), errors.Join(probs...))
}

// flatten returns the problems a Validate error joins.
func flatten(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if e != ErrInvalid {
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// decode reads b into a Config, rejecting unknown fields. A syntax error
// returns a nil Config; type errors and unknown fields are returned as
// problems with their field paths, the rest of the file decoded.
func decode(b []byte) (*Config, []error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	if err == nil || errors.Is(err, io.EOF) { // empty file: all defaults
		return &c, nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return nil, []error{fmt.Errorf("config: %w", err)}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // it parsed once already
	lines := map[int][]nodeAt{}
	walkPaths(&root, "", lines)
	probs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		probs = append(probs, errors.New(pathOf(msg, lines)))
	}
	return &c, probs
}

// nodeAt is a node of the document with its field path.
type nodeAt struct {
	path  string
	value string // scalar value, or the key's name for a key
	key   bool
}

// walkPaths records the path of every key and value node by line.
func walkPaths(n *yaml.Node, path string, lines map[int][]nodeAt) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkPaths(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[k.Line] = append(lines[k.Line], nodeAt{path: p, value: k.Value, key: true})
			walkPaths(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkPaths(c, path+"["+strconv.Itoa(i)+"]", lines)
		}
	case yaml.ScalarNode, yaml.AliasNode:
		lines[n.Line] = append(lines[n.Line], nodeAt{path: path, value: n.Value})
	}
}

var (
	lineRE    = regexp.MustCompile(`^line (\d+): (.*)$`)
	valueRE   = regexp.MustCompile("`([^`]*)`")
	unknownRE = regexp.MustCompile(`^field (\S+) not found in type`)
)

// pathOf rewrites a yaml.v3 type error ("line 3: cannot unmarshal !!str
// `abc` into int") as "server.max_inflight: line 3: cannot unmarshal ...",
// picking, among the nodes on that line, the one the message names.
func pathOf(msg string, lines map[int][]nodeAt) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	cands := lines[line]
	if len(cands) == 0 {
		return msg
	}
	best := cands[len(cands)-1]
	for _, c := range cands { // !!seq, !!map: the key whose value it is
		if c.key {
			best = c
			break
		}
	}
	if u := unknownRE.FindStringSubmatch(m[2]); u != nil {
		for _, c := range cands {
			if c.key && c.value == u[1] {
				return fmt.Sprintf("%s: line %d: unknown field", c.path, line)
			}
		}
	} else if v := valueRE.FindStringSubmatch(m[2]); v != nil {
		for _, c := range cands {
			if !c.key && c.value == v[1] {
				best = c
				break
			}
		}
	}
	return fmt.Sprintf("%s: line %d: %s", best.path, line, plain(m[2]))
}

var (
	unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `([^`]*)`)? into (\\S+)$")
	yamlKinds   = map[string]string{"str": "a string", "seq": "a list", "map": "a mapping", "int": "an integer",
		"float": "a number", "bool": "a boolean", "null": "null", "timestamp": "a timestamp"}
)

// plain rewords "cannot unmarshal !!str `soon` into time.Duration" as
// "want time.Duration, got a string "soon"".
func plain(msg string) string {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	kind := yamlKinds[m[1]]
	if kind == "" {
		kind = "!!" + m[1]
	}
	want := m[3]
	switch want {
	case "time.Duration":
		want = "a duration like 500ms or 5m"
	case "int", "int64":
		want = "an integer"
	case "float64":
		want = "a number"
	case "bool":
		want = "true or false"
	case "string":
		want = "a string"
	}
	if m[2] != "" {
		return fmt.Sprintf("want %s, got %s %q", want, kind, m[2])
	}
	return fmt.Sprintf("want %s, got %s", want, kind)
}
