package handler_test

import (
	"testing"

	"handoff/core/handler"
	"handoff/core/handoff"
)

// TestRepeatedQueryParametersAreRefused: a parameter that names one thing (tenant, vendor,
// conversationId) given twice is INVALID_REQUEST naming it, before the use case is asked: which
// value counts is a guess that different readers make differently.
func TestRepeatedQueryParametersAreRefused(t *testing.T) {
	for _, query := range []string{
		"tenant=demo&tenant=other&vendor=liveperson",
		"tenant=demo&vendor=liveperson&vendor=koreai",
		"tenant=demo&vendor=liveperson&conversationId=a&conversationId=b",
	} {
		t.Run("availability/"+query, func(t *testing.T) {
			svc := &fakeAvailability{}
			req := httpReq("GET", "GET /availability", "/availability", "")
			req.RawQueryString = query
			p := wantProblem(t, call(t, handler.NewAvailability(svc, allowAll{}, quiet), req), 400, handoff.CodeInvalidRequest)
			if p.Error.Field == "" || len(svc.queries) != 0 {
				t.Errorf("field %q, queries %d: want the parameter named and no question asked", p.Error.Field, len(svc.queries))
			}
		})
	}
	t.Run("callback/tenant twice", func(t *testing.T) {
		svc := &fakeCallbacks{}
		req := httpReq("POST", "POST /callbacks/{vendor}", "/callbacks/bitrix24", "event=x")
		req.PathParameters = map[string]string{"vendor": "bitrix24"}
		req.RawQueryString = "tenant=demo&tenant=other"
		p := wantProblem(t, call(t, handler.NewCallback(svc, quiet), req), 400, handoff.CodeInvalidRequest)
		if p.Error.Field != "tenant" || len(svc.calls) != 0 {
			t.Errorf("field %q, calls %d: want tenant named and no callback applied", p.Error.Field, len(svc.calls))
		}
	})
	t.Run("availability/target may repeat", func(t *testing.T) {
		svc := &fakeAvailability{}
		req := httpReq("GET", "GET /availability", "/availability", "")
		req.RawQueryString = "tenant=demo&vendor=liveperson&target=skill:1&target=skill:2"
		if resp := call(t, handler.NewAvailability(svc, allowAll{}, quiet), req); resp.StatusCode != 200 || len(svc.queries[0].Targets) != 2 {
			t.Fatalf("answer %d, queries %+v", resp.StatusCode, svc.queries)
		}
	})
}
