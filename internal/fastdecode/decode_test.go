package fastdecode

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// edgeBodies are bodies whose handling by the SDK is easy to get wrong:
// each is checked against the SDK itself, accepted or rejected.
var edgeBodies = []string{
	``,
	` `,
	`null`,
	`{}`,
	`[]`,
	`"x"`,
	`{} trailing garbage is ignored by the SDK`,
	`{"Records":[]}`,
	`{"Records":null}`,
	`{"Records":[null]}`,
	`{"Records":[{}]}`,
	`{"Records":[{},]}`,
	`{"Records":[,{}]}`,
	`{"Records":[{}]`,
	`{"Records":[{}]]}`,
	`{"Records":[{} {}]}`,
	`{"Records":{}}`,
	`{"Records":"x"}`,
	`{"Records":[1]}`,
	`{"Records":[[]]}`,
	`{"Records":[{"Data":""}]}`,
	`{"Records":[{"Data":null}]}`,
	`{"Records":[{"Data":"QQ=="}]}`,
	`{"Records":[{"Data":"QQ="}]}`,
	`{"Records":[{"Data":"QQ"}]}`,
	`{"Records":[{"Data":"QUJD"}]}`,
	`{"Records":[{"Data":"QUJ"}]}`,
	`{"Records":[{"Data":"QR=="}]}`,
	`{"Records":[{"Data":"Q==="}]}`,
	`{"Records":[{"Data":"===="}]}`,
	`{"Records":[{"Data":"QQ==QQ=="}]}`,
	`{"Records":[{"Data":"QUJD\nQUJD"}]}`,
	"{\"Records\":[{\"Data\":\"QUJD\nQUJD\"}]}",
	"{\"Records\":[{\"Data\":\"QUJ\nD\"}]}",
	"{\"Records\":[{\"Data\":\"QUJDQUJ\rD\"}]}",
	`{"Records":[{"Data":"QUJD\nQUJ"}]}`,
	`{"Records":[{"Data":"\n"}]}`,
	`{"Records":[{"Data":"\r\n\r\n"}]}`,
	`{"Records":[{"Data":"\/\/\/\/"}]}`,
	`{"Records":[{"Data":"\u0051Q=="}]}`,
	`{"Records":[{"Data":"QUJD\"}]}`,
	// Escapes in Data that the optimistic first parse (first quote ends
	// the string) gets wrong and the strict second parse must answer: an
	// escaped quote after which the optimistic parse reads valid JSON,
	// escapes after a record that decoded, an escape mid-string.
	`{"Records":[{"Data":"QUJ\","PartitionKey":"k"}]}`,
	`{"Records":[{"Data":"QUJ\","Data":"QUJD"}]}`,
	`{"Records":[{"Data":"QUJD"},{"Data":"\/\/\/\/"}]}`,
	`{"Records":[{"Data":"QU\/D","SequenceNumber":"1"},{"Data":"QUJD","SequenceNumber":"2"}]}`,
	`{"Records":[{"Data":"QUJD\x"}]}`,
	`{"Records":[{"Data":"QU\u00e9D"}]}`,
	"{\"Records\":[{\"Data\":\"QU\xc3\xa9D\"}]}",
	"{\"Records\":[{\"Data\":\"QU\x00D\"}]}",
	`{"Records":[{"Data":1}]}`,
	`{"Records":[{"Data":"QQ==","Data":null}]}`,
	`{"Records":[{"Data":"QQ==","Data":"QUJD"}]}`,
	`{"Records":[{"Data":"\u0051Q=","Data":"QUJD"}]}`,
	`{"Records":[{"Data":"\u0051Q="}],"Records":[]}`,
	`{"Records":[{"Data":"\u0051Q="}],"Records":null}`,
	"{\"Records\":[{\"Data\":\"QU\x01D\"}],\"Records\":[{}]}",
	"{\"Records\":[{\"Data\":\"QU\x01D\",\"Data\":\"QUJD\"}]}",
	`{"Records":[{"PartitionKey":"a\u0000b"}]}`,
	`{"Records":[{"PartitionKey":"\ud83d\ude00"}]}`,
	`{"Records":[{"PartitionKey":"\ud83d"}]}`,
	`{"Records":[{"PartitionKey":"\ud83dx"}]}`,
	`{"Records":[{"PartitionKey":"\ud83d\u0041"}]}`,
	`{"Records":[{"PartitionKey":"\ude00\ud83d"}]}`,
	`{"Records":[{"PartitionKey":"\uD83D\uDE00\uDE00"}]}`,
	"{\"Records\":[{\"PartitionKey\":\"raw \xff invalid\"}]}",
	"{\"Records\":[{\"PartitionKey\":\"escaped\\n \xff invalid\"}]}",
	"{\"Records\":[{\"PartitionKey\":\"\xed\xa0\x80 surrogate in UTF-8\\t\"}]}",
	"{\"Records\":[{\"PartitionKey\":\"tab\tinside\"}]}",
	`{"Records":[{"PartitionKey":"\'"}]}`,
	`{"Records":[{"PartitionKey":"\u12"}]}`,
	`{"Records":[{"PartitionKey":"\u12G4"}]}`,
	`{"Records":[{"PartitionKey":""}]}`,
	`{"Records":[{"PartitionKey":5}]}`,
	`{"Records":[{"PartitionKey":true}]}`,
	`{"Records":[{"SequenceNumber":"1","SequenceNumber":"2"}]}`,
	`{"Records":[{"EncryptionType":"KMS"},{"EncryptionType":"NONE"},{"EncryptionType":""},{"EncryptionType":"K\u004dS"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1.7e9}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1700000000.123}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1700000000.1239}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1700000000.9999999999}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-1.5}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-0.0009}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-0}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":0.0005}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1e-400}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1e400}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1.7e308}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-1.7e308}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":9223372036854775807}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":9223372036854775808}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-9223372036854775808}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-9223372036854775808.5}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-92233720368547758089}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":9223372036854775.807}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":20000000000000000000}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":"Infinity"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":"-infinity"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":"INFINITY"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":"\u0049nfinity"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":"NaN"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":"1700000000"}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":true}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":{}}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":01}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1.}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":.5}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":+1}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":1e}]}`,
	`{"Records":[{"ApproximateArrivalTimestamp":-}]}`,
	`{"MillisBehindLatest":0}`,
	`{"MillisBehindLatest":-0}`,
	`{"MillisBehindLatest":1.0}`,
	`{"MillisBehindLatest":1e3}`,
	`{"MillisBehindLatest":"5"}`,
	`{"MillisBehindLatest":9223372036854775807}`,
	`{"MillisBehindLatest":9223372036854775808}`,
	`{"MillisBehindLatest":-9223372036854775808}`,
	`{"MillisBehindLatest":-9223372036854775809}`,
	`{"MillisBehindLatest":-92233720368547758080}`,
	`{"MillisBehindLatest":-9223372036854775808.25}`,
	`{"MillisBehindLatest":20000000000000000000}`,
	`{"MillisBehindLatest":-20000000000000000000}`,
	`{"MillisBehindLatest":922337203685477580}`,
	`{"MillisBehindLatest":null}`,
	`{"MillisBehindLatest":true}`,
	`{"NextShardIterator":null}`,
	`{"NextShardIterator":""}`,
	`{"NextShardIterator":"a\/b"}`,
	`{"NextShardIterator":"a","NextShardIterator":"b"}`,
	`{"NextShardIterator":"a","NextShardIterator":null}`,
	`{"ChildShards":[]}`,
	`{"ChildShards":null}`,
	`{"ChildShards":[null,{}]}`,
	`{"ChildShards":[{"ShardId":"s","ParentShards":["a",null,"b"],"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"9"}}]}`,
	`{"ChildShards":[{"HashKeyRange":{"StartingHashKey":"0"},"HashKeyRange":{"EndingHashKey":"9"}}]}`,
	`{"ChildShards":[{"HashKeyRange":null,"ParentShards":null,"ShardId":null}]}`,
	`{"ChildShards":[{"HashKeyRange":[]}]}`,
	`{"ChildShards":[{"ParentShards":[1]}]}`,
	`{"ChildShards":[{"ParentShards":{}}]}`,
	`{"ChildShards":{}}`,
	`{"Unknown":{"a":[1,{"b":null}],"c":"\u00e9"},"Records":[]}`,
	`{"Unknown":[1,]}`,
	`{"Unknown":{"a":1,}}`,
	`{"Unknown":{"a"}}`,
	`{"Unknown":{1:2}}`,
	`{"Unknown":tru}`,
	`{"Unknown":nul}`,
	`{"Unknown":"\x"}`,
	`{"Unknown":[}`,
	`{"Unknown":{]}`,
	`{"Rec\u006frds":[{"Data":"QQ=="}]}`,
	`{"records":[{"Data":"QQ=="}]}`,
	`{"Records":[{"data":"QQ=="}]}`,
	`{"Records" : [ { "Data" : "QQ==" } ] , "NextShardIterator" : "x" }`,
	"{\r\n\t\"Records\"\t:\n[]\r}",
	`{"Records":[],}`,
	`{,"Records":[]}`,
	`{"Records":[]"NextShardIterator":"x"}`,
	`{"Records"[]}`,
	`{"Records":[]}}`,
	`{"Records":[]}]`,
	`{Records:[]}`,
	`{'Records':[]}`,
	"\xef\xbb\xbf{}",
}

func TestDecodeMatchesSDKOnEdgeCases(t *testing.T) {
	for _, body := range edgeBodies {
		t.Run("", func(t *testing.T) { checkEquivalent(t, []byte(body)) })
	}
}

func TestDecodeMatchesSDKOnDeepNesting(t *testing.T) {
	for _, depth := range []int{maxDepth - 2, maxDepth - 1, maxDepth, maxDepth + 1} {
		// The top-level object is depth 1, so an unknown member holding
		// depth arrays nests depth+1 deep.
		body := `{"Unknown":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		checkEquivalent(t, []byte(body))
		body = `{"Unknown":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + `}`
		checkEquivalent(t, []byte(body))
	}
}

func TestDecodeMatchesSDKOnGeneratedResponses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 2000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		o := genOptions{maxRecords: 20, maxData: 300, edgy: i%2 == 1}
		if i%200 == 0 {
			o.maxData = 200_000
		}
		checkEquivalent(t, genResponse(rng, o))
	}
}

// TestDecodeSharesNoMemoryWithBody guards the pooling: output must not
// alias the body, which the middleware reuses for the next response.
func TestDecodeSharesNoMemoryWithBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	body := genResponse(rng, genOptions{maxRecords: 50, maxData: 100})
	out, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := sdkDecode(body)
	for i := range body {
		body[i] = 'x'
	}
	if d := diffOutputs(want, out); d != "" {
		t.Fatalf("overwriting the body changed the output: %s", d)
	}
}

func TestDecodeDataSlicesAreClipped(t *testing.T) {
	out, err := Decode([]byte(`{"Records":[{"Data":"QUJD"},{"Data":"REVG"},{"Data":""}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := out.Records[0].Data
	if cap(a) != len(a) {
		t.Fatalf("cap(Data) = %d, want %d", cap(a), len(a))
	}
	_ = append(a, 'Z') // must reallocate, not write into the next record
	if got := string(out.Records[1].Data); got != "DEF" {
		t.Fatalf("appending to record 0 changed record 1 to %q", got)
	}
	if d := out.Records[2].Data; d == nil || len(d) != 0 {
		t.Fatalf("empty Data = %#v, want a non-nil empty slice", d)
	}
	if aws.ToString(out.Records[0].SequenceNumber) != "" || out.Records[0].SequenceNumber != nil {
		t.Fatalf("absent SequenceNumber should be nil")
	}
}

func TestDecodeIsSafeForConcurrentUse(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bodies := make([][]byte, 8)
	wants := make([][]byte, len(bodies))
	for i := range bodies {
		bodies[i] = genResponse(rng, genOptions{maxRecords: 30, maxData: 2000, edgy: true})
		wants[i] = bytes.Clone(bodies[i])
	}
	done := make(chan string, len(bodies))
	for i := range bodies {
		go func() {
			want, _, _ := sdkDecode(wants[i])
			for range 50 {
				got, err := Decode(bodies[i])
				if want == nil {
					if err == nil {
						done <- "accepted a body the SDK rejects"
						return
					}
					continue
				}
				if d := diffOutputs(want, got); d != "" || err != nil {
					done <- d
					return
				}
			}
			done <- ""
		}()
	}
	for range bodies {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
}
