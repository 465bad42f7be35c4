package lokipush

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/noctua-obs/noctua/transform"
)

// This is the JSON push decoder the handler used before the scanner of
// jsonpush.go, on encoding/json: the reference FuzzJSONPushDifferential
// checks the scanner against.

// stdStream is one stream of a JSON push.
type stdStream struct {
	Stream map[string]string `json:"stream"`
	Values []stdEntry        `json:"values"`
}

// stdEntry is ["<unix ns>", "line"] or ["<unix ns>", "line", {metadata}].
// The timestamp may also be a JSON number.
type stdEntry struct {
	ts   string
	line string
	meta map[string]string
}

// UnmarshalJSON implements json.Unmarshaler.
func (e *stdEntry) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 2 && len(raw) != 3 {
		return fmt.Errorf("a value must be [timestamp, line] or [timestamp, line, {structured metadata}], got %d elements", len(raw))
	}
	if ts := bytes.TrimSpace(raw[0]); len(ts) > 0 && ts[0] == '"' {
		if err := json.Unmarshal(ts, &e.ts); err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
	} else {
		e.ts = string(ts)
	}
	if err := json.Unmarshal(raw[1], &e.line); err != nil {
		return fmt.Errorf("line must be a string: %w", err)
	}
	if len(raw) == 3 {
		if err := json.Unmarshal(raw[2], &e.meta); err != nil {
			return fmt.Errorf("structured metadata must be an object of strings: %w", err)
		}
	}
	return nil
}

// decodeJSONStd decodes a JSON push into c, one stream at a time so that the
// line limit stops a huge push early.
func (c *converter) decodeJSONStd(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := stdExpectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return stdJSONErr(err)
		}
		if key, _ := tok.(string); key != "streams" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return stdJSONErr(err)
			}
			continue
		}
		if err := stdExpectDelim(dec, '['); err != nil {
			return err
		}
		for dec.More() {
			var s stdStream
			if err := dec.Decode(&s); err != nil {
				return stdJSONErr(err)
			}
			if err := c.decodeStdStream(&s); err != nil {
				return err
			}
		}
		if err := stdExpectDelim(dec, ']'); err != nil {
			return err
		}
	}
	if err := stdExpectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("cannot decode JSON push: data after the top-level object")
	}
	return nil
}

func (c *converter) decodeStdStream(s *stdStream) error {
	n := len(s.Values)
	if err := c.countLines(n); err != nil {
		return err
	}
	ls := c.labels[:0]
	var lerr error
	for name, v := range s.Stream {
		if lerr == nil && !validName(name) {
			lerr = fmt.Errorf("invalid label name %q", clip(name, 64))
		}
		if lerr == nil {
			lerr = checkLabel(name, v)
		}
		if v != "" {
			ls = append(ls, transform.Label{Name: name, Value: v})
		}
	}
	st, ok := c.openLabels(ls, lerr, n)
	c.labels = ls[:0]
	if !ok {
		return nil
	}
	for idx := range s.Values {
		e := &s.Values[idx]
		ts, err := strconv.ParseInt(e.ts, 10, 64)
		if err != nil {
			c.invalidTS(&st, idx, e.ts)
			continue
		}
		metaBytes := 0
		meta := c.meta[:0]
		for k, v := range e.meta {
			metaBytes += len(k) + len(v)
			meta = append(meta, transform.Label{Name: k, Value: v})
		}
		c.meta = meta[:0]
		if !c.checkEntry(&st, idx, ts, len(e.line), metaBytes, len(meta)) {
			continue
		}
		c.add(&st, ts, e.line, meta)
	}
	return nil
}

func stdExpectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return stdJSONErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("cannot decode JSON push: want %q, got %v", want, tok)
	}
	return nil
}

func stdJSONErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("cannot decode JSON push: %w", err)
}
