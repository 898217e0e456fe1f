package handler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// httpEventSeeds are the sample HTTP API events, as API Gateway sends them.
func httpEventSeeds(tb testing.TB) [][]byte {
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
		seeds = append(seeds, raw)
	}
	return seeds
}

// sameAsEncodingJSON fails when decodeHTTPEvent takes payload but encoding/json makes something
// else of it (or refuses it): the fast path must never change what an event means.
func sameAsEncodingJSON(t *testing.T, payload []byte) bool {
	t.Helper()
	var fast trigger
	if !decodeHTTPEvent(payload, &fast.APIGatewayV2HTTPRequest) {
		return false
	}
	var slow trigger
	if err := json.Unmarshal(payload, &slow); err != nil {
		t.Fatalf("the fast path took an event encoding/json refuses (%v): %q", err, payload)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("the fast path decoded %q\nas  %#v\nnot %#v", payload, fast, slow)
	}
	return true
}

func TestHTTPEventFastPath(t *testing.T) {
	taken := 0
	for _, seed := range httpEventSeeds(t) {
		if sameAsEncodingJSON(t, seed) {
			taken++
		}
	}
	if taken < 3 {
		t.Fatalf("the fast path took %d of the sample events; it should take every HTTP API one", taken)
	}
	// What it must leave to encoding/json (each would decode differently, or not at all).
	for _, payload := range []string{
		`{"Version":"2.0"}`,           // a name matched regardless of case
		`{"version":"2.0","extra":1}`, // a name encoding/json ignores
		`{"version":"2.0"} x`,         // trailing data
		`{"version":"\ud83d\ude00"}`,  // a surrogate pair
		`{"version":2}`,               // a type encoding/json refuses
		`{"requestContext":{"timeEpoch":1.5}}`,
		`{"requestContext":{"timeEpoch":99999999999999999999}}`,
		`{"cookies":["a",null]}`,
		`{"version":"a` + "\xff" + `"}`, // invalid UTF-8
		`{"version":"a` + "\x01" + `"}`, // a control character
		`{"id":"e-1","detail-type":"Escalation Requested","detail":{}}`,
		`{null:"2.0"}`,
		`{"version":"2.0",}`,
		`null`,
	} {
		var ev events.APIGatewayV2HTTPRequest
		if decodeHTTPEvent([]byte(payload), &ev) {
			t.Errorf("the fast path took %q", payload)
		}
	}
	// What it takes, as encoding/json does.
	for _, payload := range []string{
		` { "version" : "2.0" , "headers" : { "a" : "1" , "a" : null } , "body" : "\"x\"\n\u00e9\/" } `,
		`{"headers":{"a":"1"},"headers":{"b":"2"},"pathParameters":null,"cookies":[]}`,
		`{"requestContext":{"authorizer":{"iam":{"userArn":"u","cognitoIdentity":null,"principalOrgId":null}},"timeEpoch":-0}}`,
		`{"requestContext":null,"isBase64Encoded":true,"rawPath":null}`,
	} {
		if !sameAsEncodingJSON(t, []byte(payload)) {
			t.Errorf("the fast path left %q to encoding/json", payload)
		}
	}
}

// FuzzHTTPEvent: whatever the fast path takes, encoding/json takes and decodes the same.
func FuzzHTTPEvent(f *testing.F) {
	for _, seed := range httpEventSeeds(f) {
		f.Add(seed)
		f.Add([]byte(strings.ReplaceAll(string(seed), `"`, `"\u0041`)))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		sameAsEncodingJSON(t, payload)
	})
}

func BenchmarkHTTPEventDecode(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "transfer-post-bitrix24.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var ev trigger
			if !decodeHTTPEvent(raw, &ev.APIGatewayV2HTTPRequest) {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var ev trigger
			if err := json.Unmarshal(raw, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
