package handoff

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"encoding/json"
	"github.com/aws/aws-lambda-go/events"
)

// sameAsDecodeStrict fails when decodeFast takes body but decodeStrict makes something else of
// it, or refuses it: the fast path must never change what a request means.
func sameAsDecodeStrict(t *testing.T, body []byte) bool {
	t.Helper()
	if !utf8.Valid(body) { // DecodeRequest refuses it before either runs
		return false
	}
	var fast Request
	if !decodeFast(body, &fast) {
		return false
	}
	var strict Request
	if err := decodeStrict(body, &strict); err != nil {
		t.Fatalf("the fast path took a body decodeStrict refuses (%v): %q", err, body)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("the fast path decoded %q\nas  %#v\nnot %#v", body, fast, strict)
	}
	return true
}

// requestSeeds are the bodies of the sample events.
func requestSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var seeds [][]byte
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		var http events.APIGatewayV2HTTPRequest
		if json.Unmarshal(raw, &http) == nil && http.Body != "" {
			seeds = append(seeds, []byte(http.Body))
		}
		var eb events.EventBridgeEvent
		if json.Unmarshal(raw, &eb) == nil && len(eb.Detail) > 0 {
			seeds = append(seeds, eb.Detail)
		}
	}
	return seeds
}

func TestDecodeFast(t *testing.T) {
	taken := 0
	for _, seed := range requestSeeds(t) {
		if sameAsDecodeStrict(t, seed) {
			taken++
		}
	}
	if taken < 3 {
		t.Fatalf("the fast path took %d sample bodies", taken)
	}
	for _, body := range []string{
		` {"tenant":"a","fallbacks":[],"metadata":null,"bot":null,"options":null} `,
		`{"tenant":"a","fallbacks":null,"metadata":{"x": [1, {"y": "\u00e9"}], "n": -0},"bot":{"sequenceId":7}}`,
		`{"n\u006fte":"x\ny","target":{"type":"next"}}`,
		"\t{\"tenant\":\"a\"}\n",
	} {
		if !sameAsDecodeStrict(t, []byte(body)) {
			t.Errorf("the fast path left %q to decodeStrict", body)
		}
	}
	for _, body := range []string{
		`{"tenant":"a","tenant":"b"}`, // merged or refused: decodeStrict's say
		`{"Tenant":"a"}`,              // matched regardless of case
		`{"extra":1}`,                 // unknown
		`{"bot":{"sequenceId":1.0}}`,  // not an integer
		`{"metadata":1e3}`,            // an exponent
		`{"target":null}`,             // null target
		`{"fallbacks":[null]}`,        // null fallback
		`{"tenant":"a"} {}`,           // trailing data
		`{"tenant":"\ud83d\ude00"}`,   // a surrogate pair
		"\u00a0{\"tenant\":\"a\"}",    // Unicode white space
		`{"metadata":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		`[]`,
	} {
		var r Request
		if decodeFast([]byte(body), &r) {
			t.Errorf("the fast path took %q", body)
		}
	}
}

// FuzzDecodeFast: whatever the fast path takes, decodeStrict takes and decodes the same.
func FuzzDecodeFast(f *testing.F) {
	for _, seed := range requestSeeds(f) {
		f.Add(seed)
	}
	f.Add([]byte(`{"tenant":"a","fallbacks":[],"metadata":null,"bot":null,"options":{"leave":true}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsDecodeStrict(t, body)
	})
}
