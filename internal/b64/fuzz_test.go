package b64

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// FuzzDecode compares Decode on every supported path with the stdlib. The
// input is used as is and, to reach the SIMD code more often, also after
// being prefixed with a long clean run.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "QQ==", "QUI=", "QUJD", "QUJD\r\n", "QQ==QQ==", "=", "A", "QQ=\n=",
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==",
		"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw\n==",
	} {
		f.Add([]byte(s))
	}
	prefix := []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xef, 0x3e, 0x41, 0x02}, 60)))
	prefix = prefix[:len(prefix)&^3]
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, in := range [][]byte{src, append(prefix[:len(prefix):len(prefix)], src...)} {
			for _, p := range allPaths {
				if !supported(p) {
					continue
				}
				old := activePath
				activePath = p
				msg := compare(in)
				activePath = old
				if msg != "" {
					t.Fatalf("%v: %s\nsrc = %q", p, msg, in)
				}
			}
		}
	})
}
