package fastdecode

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxDepth is the SDK parser's nesting limit (the same as encoding/json's):
// an object or array nested deeper than this is an error, even inside a
// field that is skipped.
const maxDepth = 10_000

// SyntaxError reports a body that is not a GetRecords response the SDK
// would accept.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fastdecode: %s at offset %d", e.Msg, e.Offset)
}

func (s *scanner) errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: s.i}
}

// Byte classes for the scanner.
var (
	isSpace [256]bool // JSON whitespace
	strStop [256]bool // bytes that end the fast scan of a string: '"', '\\', controls
)

func init() {
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		isSpace[c] = true
	}
	for c := range 0x20 {
		strStop[c] = true
	}
	strStop['"'] = true
	strStop['\\'] = true
}

// scanner walks a JSON body with the SDK parser's grammar: RFC 8259 values,
// no leading zeros, the escapes \" \\ \/ \b \f \n \r \t \uXXXX, no raw
// control characters in strings, any other byte (invalid UTF-8 included)
// allowed in strings.
type scanner struct {
	b     []byte
	i     int
	depth int    // containers open at s.i; the top-level object is depth 1
	kinds []byte // container kinds open inside skipValue ('{' or '[')
	esc   []byte // unescaped strings (keys, and values that had escapes)
	// strict makes longStr look for a backslash before the closing quote;
	// without it longStr trusts the first quote (see parser.run).
	strict bool
}

func (s *scanner) ws() {
	b, i := s.b, s.i
	for i < len(b) && isSpace[b[i]] {
		i++
	}
	s.i = i
}

// peek skips whitespace and returns the next byte, or an error at the end of
// the input.
func (s *scanner) peek() (byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, s.errorf("unexpected end of JSON input")
	}
	return s.b[s.i], nil
}

// consume skips whitespace and consumes c.
func (s *scanner) consume(c byte) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.errorf("expected %q, found %q", c, got)
	}
	s.i++
	return nil
}

// literal consumes the literal lit at s.i.
func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// isNull consumes a null at the next token and reports whether there was
// one. A token starting with 'n' that is not null is an error.
func (s *scanner) isNull() (bool, error) {
	c, err := s.peek()
	if err != nil || c != 'n' {
		return false, err
	}
	return true, s.literal("null")
}

// str consumes the string at s.i (which must be '"') and returns the bounds
// of its contents and whether it holds escapes.
func (s *scanner) str() (start, end int, escaped bool, err error) {
	b := s.b
	start = s.i + 1
	i := start
	for {
		// Eight bytes at a time while none of them ends the fast scan:
		// keys, sequence numbers and partition keys are mostly longer
		// than eight bytes, and profiles had this loop at a fifth of the
		// scan of small records.
		for i+8 <= len(b) && !hasStop(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !strStop[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return 0, 0, false, s.errorf("unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			n, ok := escapeLen(b[i:])
			if !ok {
				s.i = i
				return 0, 0, false, s.errorf("invalid escape in string")
			}
			i += n
		default:
			s.i = i
			return 0, 0, false, s.errorf("control character in string")
		}
	}
}

// hasStop reports whether any byte of v is '"', '\\' or below 0x20 (the
// classic SWAR tests: a byte b of x is zero iff the high bit of
// (b-1) &^ b is set, and subtraction's borrows only ever flag a byte above
// a zero one, which is harmless here since any flag means "look closer").
func hasStop(v uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	less := (v - lo*0x20) &^ v & hi
	x, y := v^(lo*'"'), v^(lo*'\\')
	quote := (x - lo) &^ x & hi
	bslash := (y - lo) &^ y & hi
	return less|quote|bslash != 0
}

// longStr is str for strings expected to be long and free of escapes (the
// base64 of record data): it finds the closing quote with IndexByte. When
// strict, it falls back to str if there is a backslash before that quote;
// otherwise it trusts the quote, and a backslash left in the string fails
// its base64 decoding (see parser.run). It does not look for control
// characters; the caller's base64 decoding rejects those (see decodeData).
func (s *scanner) longStr() (start, end int, escaped bool, err error) {
	start = s.i + 1
	q := bytes.IndexByte(s.b[start:], '"')
	if q < 0 || s.strict && bytes.IndexByte(s.b[start:start+q], '\\') >= 0 {
		return s.str()
	}
	end = start + q
	s.i = end + 1
	return start, end, false, nil
}

// escapeLen returns the length of the escape sequence at the start of b
// (which starts with a backslash).
func escapeLen(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		if len(b) < 6 {
			return 0, false
		}
		for _, c := range b[2:6] {
			if hexVal(c) < 0 {
				return 0, false
			}
		}
		return 6, true
	}
	return 0, false
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// number consumes a JSON number at s.i and returns its text.
func (s *scanner) number() ([]byte, error) {
	b := s.b
	start, i := s.i, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	d := i
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i == d {
		return nil, s.errorf("invalid character %q looking for a value", at(b, d))
	}
	if b[d] == '0' && i-d > 1 {
		return nil, s.errorf("leading zero in number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d = i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == d {
			return nil, s.errorf("no digits after decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d = i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == d {
			return nil, s.errorf("no digits in exponent")
		}
	}
	s.i = i
	return b[start:i], nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// nextMember moves to the next member of the object whose '{' (first) or
// previous member value was just consumed. It returns the member's key, or
// ok=false at the closing '}'. After it returns a key, s.i is at the value.
//
// The key is a slice of the body, or of s.esc when it had escapes; it is
// valid until the next call that unescapes.
func (s *scanner) nextMember(first bool) (key []byte, ok bool, err error) {
	c, err := s.peek()
	if err != nil {
		return nil, false, err
	}
	if c == '}' && first {
		s.i++
		s.depth--
		return nil, false, nil
	}
	if !first {
		switch c {
		case '}':
			s.i++
			s.depth--
			return nil, false, nil
		case ',':
			s.i++
			if c, err = s.peek(); err != nil {
				return nil, false, err
			}
		default:
			return nil, false, s.errorf("expected ',' or '}' after object member, found %q", c)
		}
	}
	if c != '"' {
		return nil, false, s.errorf("expected object key, found %q", c)
	}
	start, end, escaped, err := s.str()
	if err != nil {
		return nil, false, err
	}
	key = s.b[start:end]
	if escaped {
		s.esc, key = appendUnquoted(s.esc, key)
	}
	if err := s.consume(':'); err != nil {
		return nil, false, err
	}
	_, err = s.peek()
	return key, true, err
}

// openContainer consumes the '{' or '[' the caller has peeked.
func (s *scanner) openContainer() error {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		return s.errorf("exceeded max nesting depth")
	}
	return nil
}

// nextElement moves to the next element of the array whose '[' (first) or
// previous element was just consumed. It returns ok=false at the closing
// ']'; otherwise s.i is at the element.
func (s *scanner) nextElement(first bool) (ok bool, err error) {
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	if c == ']' { // "[]" or "[x, y]"; a ']' right after ',' is caught below
		s.i++
		s.depth--
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, s.errorf("expected ',' or ']' after array element, found %q", c)
		}
		s.i++
		if c, err = s.peek(); err != nil {
			return false, err
		}
		if c == ']' {
			return false, s.errorf("unexpected ']' after ','")
		}
	}
	return true, nil
}

// skipValue consumes one value of any kind, validating it as the SDK's
// parser does, without recursion: nesting is tracked in s.kinds.
func (s *scanner) skipValue() error {
	base := len(s.kinds)
	defer func() { s.kinds = s.kinds[:base] }()
	for {
		c, err := s.peek()
		if err != nil {
			return err
		}
		switch c {
		case '{', '[':
			if err := s.openContainer(); err != nil {
				return err
			}
			s.kinds = append(s.kinds, c)
			// An empty container closes at once; otherwise fall
			// through to read its first key or element.
			c2, err := s.peek()
			if err != nil {
				return err
			}
			if (c == '{' && c2 == '}') || (c == '[' && c2 == ']') {
				s.i++
				s.depth--
				s.kinds = s.kinds[:len(s.kinds)-1]
				break
			}
			if c == '{' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			continue
		case '"':
			if _, _, _, err := s.str(); err != nil {
				return err
			}
		case 't':
			err = s.literal("true")
		case 'f':
			err = s.literal("false")
		case 'n':
			err = s.literal("null")
		default:
			_, err = s.number()
		}
		if err != nil {
			return err
		}
		// A value ended: close containers and find the next value.
		for {
			if len(s.kinds) == base {
				return nil
			}
			c, err := s.peek()
			if err != nil {
				return err
			}
			open := s.kinds[len(s.kinds)-1]
			if c == ',' {
				s.i++
				if open == '{' {
					if err := s.skipKey(); err != nil {
						return err
					}
				} else if c, err := s.peek(); err != nil {
					return err
				} else if c == ']' {
					return s.errorf("unexpected ']' after ','")
				}
				break
			}
			if (open == '{' && c == '}') || (open == '[' && c == ']') {
				s.i++
				s.depth--
				s.kinds = s.kinds[:len(s.kinds)-1]
				continue
			}
			return s.errorf("unexpected %q after value", c)
		}
	}
}

// skipKey consumes `"key":` inside an object being skipped.
func (s *scanner) skipKey() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '"' {
		return s.errorf("expected object key, found %q", c)
	}
	if _, _, _, err := s.str(); err != nil {
		return err
	}
	return s.consume(':')
}
