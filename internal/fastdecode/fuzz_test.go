package fastdecode

import (
	"math/rand/v2"
	"testing"
)

// FuzzDecodeGetRecords checks the contract on arbitrary bodies: for any
// body the SDK's deserializer decodes, Decode yields a deeply equal output;
// for any body the SDK rejects (or panics on), Decode returns an error; and
// Decode never panics (checkEquivalent calls the unrecovered decode).
//
//	go test -run=NONE -fuzz=FuzzDecodeGetRecords ./internal/fastdecode
func FuzzDecodeGetRecords(f *testing.F) {
	for _, b := range edgeBodies {
		f.Add([]byte(b))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 40 {
		f.Add(genResponse(rng, genOptions{maxRecords: 4, maxData: 40, edgy: i%2 == 0}))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkEquivalent(t, body)
	})
}
