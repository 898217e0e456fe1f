package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"handoff/core/availability"
	"handoff/core/handler"
	"handoff/core/handoff"
)

// fakeAvailability is a handler.Availabilities that records the query and answers as set.
type fakeAvailability struct {
	targets []handoff.Availability
	err     error
	queries []availability.Query
}

func (f *fakeAvailability) Check(_ context.Context, q availability.Query) ([]handoff.Availability, error) {
	f.queries = append(f.queries, q)
	return f.targets, f.err
}

func TestAvailabilitySample(t *testing.T) {
	one := 1
	svc := &fakeAvailability{targets: []handoff.Availability{{Type: handoff.TargetSkill, ID: "2", Name: "Sales", Available: true, OnlineAgents: &one}}}
	resp := call(t, handler.NewAvailability(svc, allowAll{}, quiet), sampleHTTP(t, "availability-get.json"))
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("answer %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	want := `{"targets":[{"type":"skill","id":"2","name":"Sales","available":true,"onlineAgents":1}]}`
	if resp.Body != want {
		t.Errorf("body %s, want %s", resp.Body, want)
	}
	q := svc.queries[0]
	if q.Tenant != "demo" || q.Vendor != "liveperson" || q.ConversationID != "H6201348217" || len(q.Targets) != 0 {
		t.Errorf("query %+v", q)
	}
}

func TestAvailabilityTargets(t *testing.T) {
	cases := []struct {
		query string
		want  []handoff.Target
	}{
		{"target=skill:2", []handoff.Target{{Type: handoff.TargetSkill, ID: "2"}}},
		{"target=skill:2&target=agent:6", []handoff.Target{{Type: handoff.TargetSkill, ID: "2"}, {Type: handoff.TargetAgent, ID: "6"}}},
		{"target=next", []handoff.Target{{Type: handoff.TargetNext}}},
		{"target=queue:qu-1:extra", []handoff.Target{{Type: handoff.TargetQueue, ID: "qu-1:extra"}}},
		{"target=agent%3Aa-1", []handoff.Target{{Type: handoff.TargetAgent, ID: "a-1"}}},
		{"target=", []handoff.Target{{}}},
	}
	for _, tc := range cases {
		req := sampleHTTP(t, "availability-get.json")
		req.RawQueryString = "tenant=demo&vendor=koreai&" + tc.query
		svc := &fakeAvailability{targets: []handoff.Availability{}}
		resp := call(t, handler.NewAvailability(svc, allowAll{}, quiet), req)
		if resp.StatusCode != 200 || len(svc.queries) != 1 {
			t.Errorf("%s: answer %d %s", tc.query, resp.StatusCode, resp.Body)
			continue
		}
		q := svc.queries[0]
		if q.Vendor != "koreai" || q.ConversationID != "" || fmt.Sprint(q.Targets) != fmt.Sprint(tc.want) {
			t.Errorf("%s: query %+v, want targets %v", tc.query, q, tc.want)
		}
	}
}

// The answer is always {"targets": [...]}, never null, even from a checker that found nothing.
func TestAvailabilityEmpty(t *testing.T) {
	svc := &fakeAvailability{}
	resp := call(t, handler.NewAvailability(svc, allowAll{}, quiet), sampleHTTP(t, "availability-get.json"))
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || string(body["targets"]) != "[]" {
		t.Errorf("answer %d %s, want an empty list", resp.StatusCode, resp.Body)
	}
}

func TestAvailabilityErrors(t *testing.T) {
	req := sampleHTTP(t, "availability-get.json")
	svc := &fakeAvailability{err: handoff.Invalid("vendor", "bitrix24 does not report availability")}
	p := wantProblem(t, call(t, handler.NewAvailability(svc, allowAll{}, quiet), req), 400, handoff.CodeInvalidRequest)
	if p.Error.Field != "vendor" {
		t.Errorf("field %q", p.Error.Field)
	}

	svc = &fakeAvailability{err: handoff.E(handoff.CodeVendorTimeout, "liveperson.Availability", "slow", nil)}
	wantProblem(t, call(t, handler.NewAvailability(svc, allowAll{}, quiet), req), 504, handoff.CodeVendorTimeout)

	req.RawQueryString = "tenant=demo&vendor=%zz"
	svc = &fakeAvailability{}
	wantProblem(t, call(t, handler.NewAvailability(svc, allowAll{}, quiet), req), 400, handoff.CodeInvalidRequest)
	if len(svc.queries) != 0 {
		t.Error("Check called for a malformed query")
	}

	req = sampleHTTP(t, "availability-get.json")
	req.RouteKey = "POST /availability"
	wantProblem(t, call(t, handler.NewAvailability(svc, allowAll{}, quiet), req), 404, handoff.CodeNotFound)
}
