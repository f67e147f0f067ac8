package fastdecode

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// genOptions shape generated responses.
type genOptions struct {
	maxRecords int
	maxData    int  // largest record payload
	edgy       bool // unknown fields, nulls, duplicates, escapes, odd spacing
	event      bool // a SubscribeToShardEvent payload: ContinuationSequenceNumber, not NextShardIterator
}

// jsonWriter writes JSON with optional random whitespace and escapes, so
// generated bodies exercise what the SDK's parser accepts, not only what
// Kinesis sends.
type jsonWriter struct {
	sb   strings.Builder
	rng  *rand.Rand
	edgy bool
}

func (w *jsonWriter) ws() {
	if w.edgy && w.rng.IntN(4) == 0 {
		w.sb.WriteString([]string{" ", "\n", "\t", "\r\n  ", "   "}[w.rng.IntN(5)])
	}
}

func (w *jsonWriter) raw(s string) { w.ws(); w.sb.WriteString(s); w.ws() }

// str writes s as a JSON string; when edgy, some characters are escaped
// that need not be.
func (w *jsonWriter) str(s string) {
	w.ws()
	w.sb.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			w.sb.WriteByte('\\')
			w.sb.WriteByte(c)
		case c < 0x20:
			switch c {
			case '\n':
				w.sb.WriteString(`\n`)
			case '\t':
				w.sb.WriteString(`\t`)
			case '\b':
				w.sb.WriteString(`\b`)
			default:
				fmt.Fprintf(&w.sb, `\u%04x`, c)
			}
		case w.edgy && c == '/' && w.rng.IntN(2) == 0:
			w.sb.WriteString(`\/`)
		case w.edgy && r != utf8.RuneError && w.rng.IntN(8) == 0:
			if r > 0xFFFF {
				r1, r2 := surrogates(r)
				fmt.Fprintf(&w.sb, `\u%04X\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&w.sb, `\u%04x`, r)
			}
		default:
			w.sb.WriteString(s[i : i+size])
		}
		i += size
	}
	w.sb.WriteByte('"')
	w.ws()
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

// key writes an object key; edgy keys are sometimes escaped.
func (w *jsonWriter) key(k string) {
	if w.edgy && w.rng.IntN(10) == 0 {
		w.ws()
		w.sb.WriteByte('"')
		for i := 0; i < len(k); i++ {
			if i == 1 {
				fmt.Fprintf(&w.sb, `\u%04x`, k[i])
			} else {
				w.sb.WriteByte(k[i])
			}
		}
		w.sb.WriteByte('"')
		w.ws()
	} else {
		w.str(k)
	}
	w.raw(":")
}

// randomValue writes an arbitrary JSON value (for unknown fields).
func (w *jsonWriter) randomValue(depth int) {
	switch n := w.rng.IntN(8); {
	case n == 0:
		w.raw("null")
	case n == 1:
		w.raw([]string{"true", "false"}[w.rng.IntN(2)])
	case n == 2:
		w.raw([]string{"0", "-1", "3.25", "1e10", "-2.5E-3", "12345678901234567890"}[w.rng.IntN(6)])
	case n == 3:
		w.str(randomText(w.rng, 12))
	case n == 4 && depth < 3:
		w.raw("[")
		for i := range w.rng.IntN(3) {
			if i > 0 {
				w.raw(",")
			}
			w.randomValue(depth + 1)
		}
		w.raw("]")
	case depth < 3:
		w.raw("{")
		for i := range w.rng.IntN(3) {
			if i > 0 {
				w.raw(",")
			}
			w.key(randomText(w.rng, 6))
			w.randomValue(depth + 1)
		}
		w.raw("}")
	default:
		w.raw("7")
	}
}

// randomText returns up to n runes mixing ASCII, quotes, backslashes,
// control characters, multi-byte and astral runes.
func randomText(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for range rng.IntN(n + 1) {
		switch rng.IntN(10) {
		case 0:
			sb.WriteRune([]rune{'"', '\\', '/', '\n', '\t', 0x01, 0x1f}[rng.IntN(7)])
		case 1:
			sb.WriteRune([]rune{'é', 'ß', '中', '€', 0x1F600, 0x10FFFF, 0xFFFD}[rng.IntN(7)])
		default:
			sb.WriteByte(byte('a' + rng.IntN(26)))
		}
	}
	return sb.String()
}

// member is one object member, written in random order when edgy.
type member struct {
	key   string
	write func()
}

func (w *jsonWriter) object(ms []member) {
	if w.edgy {
		w.rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		// Unknown members and duplicated known members.
		for range w.rng.IntN(3) {
			k := []string{"Unknown", "records", "data", "X-Extra", "Rec\\ords"}[w.rng.IntN(5)]
			ms = append(ms, member{k, func() { w.randomValue(0) }})
		}
		if len(ms) > 0 && w.rng.IntN(6) == 0 {
			d := ms[w.rng.IntN(len(ms))]
			ms = append(ms, d)
		}
	}
	w.raw("{")
	for i, m := range ms {
		if i > 0 {
			w.raw(",")
		}
		w.key(m.key)
		m.write()
	}
	w.raw("}")
}

// maybe returns whether an optional field is written, and whether as null.
func (w *jsonWriter) maybe(pAbsent int) (write, null bool) {
	if !w.edgy {
		return true, false
	}
	switch w.rng.IntN(20) {
	case 0:
		return false, false
	case 1:
		return true, true
	}
	return w.rng.IntN(100) >= pAbsent, false
}

// field adds a member that is sometimes absent or null.
func (w *jsonWriter) field(ms []member, key string, write func()) []member {
	ok, null := w.maybe(0)
	switch {
	case !ok:
		return ms
	case null:
		return append(ms, member{key, func() { w.raw("null") }})
	}
	return append(ms, member{key, write})
}

// genResponse builds a GetRecords response body.
func genResponse(rng *rand.Rand, o genOptions) []byte {
	w := &jsonWriter{rng: rng, edgy: o.edgy}
	var ms []member
	n := rng.IntN(o.maxRecords + 1)
	seq := rng.Uint64N(1 << 60)
	ms = w.field(ms, "Records", func() {
		w.raw("[")
		for i := range n {
			if i > 0 {
				w.raw(",")
			}
			if o.edgy && rng.IntN(40) == 0 {
				w.raw("null")
				continue
			}
			seq += 1 + rng.Uint64N(1000)
			w.record(seq, o)
		}
		w.raw("]")
	})
	if o.event {
		ms = w.field(ms, "ContinuationSequenceNumber", func() { w.str(fmt.Sprintf("4959%052d", seq+1)) })
	} else {
		ms = w.field(ms, "NextShardIterator", func() { w.str(randomIterator(rng)) })
	}
	ms = w.field(ms, "MillisBehindLatest", func() {
		w.raw(strconv.FormatInt([]int64{0, 1, 86_400_000, rng.Int64N(1 << 40)}[rng.IntN(4)], 10))
	})
	if rng.IntN(5) == 0 {
		ms = w.field(ms, "ChildShards", func() { w.childShards() })
	}
	w.object(ms)
	return []byte(w.sb.String())
}

func randomIterator(rng *rand.Rand) string {
	b := make([]byte, 100+rng.IntN(200))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (w *jsonWriter) record(seq uint64, o genOptions) {
	rng := w.rng
	var ms []member
	ms = w.field(ms, "SequenceNumber", func() {
		w.str(fmt.Sprintf("4959%052d", seq))
	})
	ms = w.field(ms, "ApproximateArrivalTimestamp", func() { w.raw(randomTimestamp(rng)) })
	ms = w.field(ms, "Data", func() {
		size := rng.IntN(o.maxData + 1)
		if rng.IntN(4) == 0 {
			size = rng.IntN(4) // 0..3 bytes: every padding case
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		enc := base64.StdEncoding.EncodeToString(data)
		if o.edgy && rng.IntN(15) == 0 {
			// Escapes inside base64 the SDK accepts: \/ for '/', \u
			// for a letter, and an escaped newline (skipped by the
			// base64 decoder after unquoting).
			enc = strings.ReplaceAll(enc, "/", `\/`)
			if len(enc) > 4 {
				enc = enc[:4] + `\n` + enc[4:]
			}
			if len(enc) > 0 && enc[0] >= 'A' && enc[0] <= 'Z' {
				enc = fmt.Sprintf(`\u%04x`, enc[0]) + enc[1:]
			}
			w.ws()
			w.sb.WriteString(`"` + enc + `"`)
			w.ws()
			return
		}
		w.str(enc)
	})
	ms = w.field(ms, "PartitionKey", func() {
		if rng.IntN(3) == 0 {
			w.str(randomText(rng, 40))
		} else {
			w.str(fmt.Sprintf("user-%d", rng.IntN(1000)))
		}
	})
	ms = w.field(ms, "EncryptionType", func() {
		w.str([]string{"NONE", "KMS", "NONE", "", "kms", "SOMETHING_NEW"}[rng.IntN(6)])
	})
	w.object(ms)
}

// randomTimestamp writes epoch seconds in the shapes a JSON encoder may
// use: integers, fractions of any length, exponents.
func randomTimestamp(rng *rand.Rand) string {
	base := 1.7e9 + rng.Float64()*1e8
	switch rng.IntN(7) {
	case 0:
		return strconv.FormatInt(int64(base), 10)
	case 1:
		return strconv.FormatFloat(base, 'f', 3, 64)
	case 2:
		return strconv.FormatFloat(base, 'f', -1, 64)
	case 3:
		return strconv.FormatFloat(base, 'e', -1, 64)
	case 4:
		return strconv.FormatFloat(base, 'f', 9, 64)
	case 5:
		return []string{"0", "-0", "0.0005", "-1.5", "1e-400", "-0.0009", "9.2233720368547758e15", "1.7e308"}[rng.IntN(8)]
	default:
		return strconv.FormatFloat(float64(int64(base*1000))/1000, 'f', -1, 64)
	}
}

func (w *jsonWriter) childShards() {
	rng := w.rng
	w.raw("[")
	for i := range 1 + rng.IntN(2) {
		if i > 0 {
			w.raw(",")
		}
		if w.edgy && rng.IntN(10) == 0 {
			w.raw("null")
			continue
		}
		var ms []member
		ms = w.field(ms, "ShardId", func() { w.str(fmt.Sprintf("shardId-%012d", rng.IntN(100))) })
		ms = w.field(ms, "ParentShards", func() {
			w.raw("[")
			for j := range 1 + rng.IntN(2) {
				if j > 0 {
					w.raw(",")
				}
				if w.edgy && rng.IntN(8) == 0 {
					w.raw("null")
				} else {
					w.str(fmt.Sprintf("shardId-%012d", rng.IntN(100)))
				}
			}
			w.raw("]")
		})
		ms = w.field(ms, "HashKeyRange", func() {
			var hk []member
			hk = w.field(hk, "StartingHashKey", func() { w.str("0") })
			hk = w.field(hk, "EndingHashKey", func() { w.str("340282366920938463463374607431768211455") })
			w.object(hk)
		})
		w.object(ms)
	}
	w.raw("]")
}
