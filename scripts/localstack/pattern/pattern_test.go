package pattern_test

import (
	"testing"

	"handoff/scripts/localstack/pattern"
)

// botAckInsert and botAckModify are the bot-ack stream filters of the template.
const (
	botAckInsert = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"kind":{"S":["transfer"]},"status":{"S":["transferred","failed"]}}}}`
	botAckModify = `{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"kind":{"S":["transfer"]},"status":{"S":["transferred","failed"]}},"OldImage":{"status":{"S":["pending"]}}}}`
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name, pattern, event string
		want                 bool
	}{
		{"exact detail-type", `{"detail-type":["Escalation Requested"]}`, `{"detail-type":"Escalation Requested","source":"bot"}`, true},
		{"other detail-type", `{"detail-type":["Escalation Requested"]}`, `{"detail-type":"Transfer Failed"}`, false},
		{"missing field", `{"detail-type":["Escalation Requested"]}`, `{"source":"bot"}`, false},
		{"one of several values", `{"source":["a","b"]}`, `{"source":"b"}`, true},
		{"case matters", `{"source":["handoff"]}`, `{"source":"Handoff"}`, false},
		{"nested", `{"detail":{"vendor":["koreai"]}}`, `{"detail":{"vendor":"koreai"}}`, true},
		{"nested mismatch", `{"detail":{"vendor":["koreai"]}}`, `{"detail":{"vendor":"bitrix24"}}`, false},
		{"nested where a leaf is", `{"detail":{"vendor":["koreai"]}}`, `{"detail":"koreai"}`, false},
		{"all fields must match", `{"a":["1"],"b":["2"]}`, `{"a":"1","b":"3"}`, false},
		{"event array holds a value", `{"resources":["r2"]}`, `{"resources":["r1","r2"]}`, true},
		{"event array lacks it", `{"resources":["r3"]}`, `{"resources":["r1","r2"]}`, false},
		{"number by value", `{"n":[300]}`, `{"n":300.0}`, true},
		{"number is not a string", `{"n":[300]}`, `{"n":"300"}`, false},
		{"boolean", `{"b":[true]}`, `{"b":true}`, true},
		{"null", `{"b":[null]}`, `{"b":null}`, true},
		{"null is not absent", `{"b":[null]}`, `{}`, false},
		{"prefix", `{"id":[{"prefix":"TRANSFER#"}]}`, `{"id":"TRANSFER#1"}`, true},
		{"prefix mismatch", `{"id":[{"prefix":"TRANSFER#"}]}`, `{"id":"REF#1"}`, false},
		{"suffix", `{"f":[{"suffix":".png"}]}`, `{"f":"a.png"}`, true},
		{"equals-ignore-case", `{"f":[{"equals-ignore-case":"ABC"}]}`, `{"f":"abc"}`, true},
		{"anything-but value", `{"s":[{"anything-but":"pending"}]}`, `{"s":"failed"}`, true},
		{"anything-but same value", `{"s":[{"anything-but":"pending"}]}`, `{"s":"pending"}`, false},
		{"anything-but list", `{"s":[{"anything-but":["a","b"]}]}`, `{"s":"b"}`, false},
		{"anything-but prefix", `{"s":[{"anything-but":{"prefix":"x"}}]}`, `{"s":"yz"}`, true},
		{"anything-but needs the field", `{"s":[{"anything-but":"a"}]}`, `{}`, false},
		{"exists true", `{"k":[{"exists":true}]}`, `{"k":"v"}`, true},
		{"exists true missing", `{"k":[{"exists":true}]}`, `{}`, false},
		{"exists only on leaves", `{"k":[{"exists":true}]}`, `{"k":{"S":"v"}}`, false},
		{"exists false", `{"k":[{"exists":false}]}`, `{}`, true},
		{"exists false present", `{"k":[{"exists":false}]}`, `{"k":1}`, false},
		{"numeric range", `{"n":[{"numeric":[">",0,"<=",5]}]}`, `{"n":5}`, true},
		{"numeric out of range", `{"n":[{"numeric":[">",0,"<=",5]}]}`, `{"n":6}`, false},
		{"numeric equals", `{"n":[{"numeric":["=",1.5]}]}`, `{"n":1.5}`, true},
		{"numeric on a string", `{"n":[{"numeric":[">",0]}]}`, `{"n":"1"}`, false},
		{"$or first", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"a":"1"}`, true},
		{"$or second", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"b":"2"}`, true},
		{"$or neither", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"a":"2"}`, false},
		{"empty pattern", `{}`, `{"a":1}`, true},
		{"event not an object", `{}`, `[1]`, false},
		{"event not JSON", `{}`, `{`, false},
		{"bot-ack insert final", botAckInsert, `{"eventName":"INSERT","dynamodb":{"NewImage":{"kind":{"S":"transfer"},"status":{"S":"failed"}}}}`, true},
		{"bot-ack insert pending", botAckInsert, `{"eventName":"INSERT","dynamodb":{"NewImage":{"kind":{"S":"transfer"},"status":{"S":"pending"}}}}`, false},
		{"bot-ack insert event item", botAckInsert, `{"eventName":"INSERT","dynamodb":{"NewImage":{"kind":{"S":"event"},"status":{"S":"failed"}}}}`, false},
		{"bot-ack modify to final", botAckModify, `{"eventName":"MODIFY","dynamodb":{"NewImage":{"kind":{"S":"transfer"},"status":{"S":"transferred"}},"OldImage":{"kind":{"S":"transfer"},"status":{"S":"pending"}}}}`, true},
		{"bot-ack modify after final", botAckModify, `{"eventName":"MODIFY","dynamodb":{"NewImage":{"kind":{"S":"transfer"},"status":{"S":"transferred"}},"OldImage":{"status":{"S":"transferred"}}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pattern.Parse([]byte(tt.pattern))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match([]byte(tt.event)); got != tt.want {
				t.Errorf("%s matching %s = %v, want %v", tt.pattern, tt.event, got, tt.want)
			}
		})
	}
}

func TestMatchValueTakesPlainDecodedNumbers(t *testing.T) {
	p := pattern.MustParse(`{"n":[{"numeric":[">=",2]}],"m":[3]}`)
	if !p.MatchValue(map[string]any{"n": 2.0, "m": 3.0}) {
		t.Error("float64 numbers did not match")
	}
}

func TestParseRejects(t *testing.T) {
	for _, text := range []string{
		`[]`,
		`{"a":"not an array"}`,
		`{"a":[]}`,
		`{"a":[{"prefix":1}]}`,
		`{"a":[{"exists":"yes"}]}`,
		`{"a":[{"numeric":[">"]}]}`,
		`{"a":[{"numeric":["~",1]}]}`,
		`{"a":[{"numeric":[">","1"]}]}`,
		`{"a":[{"wildcard-ish":"x"}]}`,
		`{"a":[{"prefix":"x","suffix":"y"}]}`,
		`{"a":[{"anything-but":{"exists":true}}]}`,
		`{"$or":[{"a":["1"]}]}`,
		`{`,
	} {
		if _, err := pattern.Parse([]byte(text)); err == nil {
			t.Errorf("Parse(%s) succeeded, want an error", text)
		}
	}
}

func TestAnyMatch(t *testing.T) {
	filters := []*pattern.Pattern{pattern.MustParse(botAckInsert), pattern.MustParse(botAckModify)}
	modify := `{"eventName":"MODIFY","dynamodb":{"NewImage":{"kind":{"S":"transfer"},"status":{"S":"failed"}},"OldImage":{"status":{"S":"pending"}}}}`
	if !pattern.AnyMatch(filters, []byte(modify)) {
		t.Error("the MODIFY filter did not match")
	}
	if pattern.AnyMatch(filters, []byte(`{"eventName":"REMOVE"}`)) {
		t.Error("REMOVE matched")
	}
	if !pattern.AnyMatch(nil, []byte(`{"eventName":"REMOVE"}`)) {
		t.Error("no filters must let everything through")
	}
}
