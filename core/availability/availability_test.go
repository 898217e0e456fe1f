package availability_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/availability"
	"handoff/core/handoff"
	"handoff/core/vendors"
)

type checker struct {
	calls atomic.Int32
	gate  chan struct{}
}

func (c *checker) Availability(_ context.Context, req vendors.AvailabilityRequest) ([]handoff.Availability, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return []handoff.Availability{{Type: handoff.TargetSkill, ID: "2", Available: true}}, nil
}

type checkers struct{ c *checker }

func (r checkers) Availability(name string) (vendors.AvailabilityChecker, bool) {
	return r.c, name == "liveperson"
}

var q = availability.Query{Tenant: "demo", Vendor: "liveperson", ConversationID: "c1"}

func TestAnswersFromTheCacheWhileFresh(t *testing.T) {
	c := &checker{}
	svc := availability.New(checkers{c}, time.Hour)
	for range 3 {
		if got, err := svc.Check(context.Background(), q); err != nil || len(got) != 1 {
			t.Fatalf("Check = %v, %v", got, err)
		}
	}
	other := q
	other.ConversationID = "c2"
	if _, err := svc.Check(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if c.calls.Load() != 2 {
		t.Errorf("vendor calls = %d, want 2 (one per distinct question)", c.calls.Load())
	}
	if _, err := availability.New(checkers{c}, 0).Check(context.Background(), q); err != nil || c.calls.Load() != 3 {
		t.Errorf("with the cache off: calls = %d, err = %v", c.calls.Load(), err)
	}
}

func TestConcurrentQuestionsShareOneCall(t *testing.T) {
	c := &checker{gate: make(chan struct{})}
	svc := availability.New(checkers{c}, time.Hour)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = svc.Check(context.Background(), q) }()
	}
	for c.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(c.gate)
	wg.Wait()
	if c.calls.Load() != 1 {
		t.Errorf("vendor calls = %d, want 1", c.calls.Load())
	}
}

func TestRefusesBadQuestions(t *testing.T) {
	svc := availability.New(checkers{&checker{}}, time.Hour)
	cases := map[string]availability.Query{
		"no tenant":          {Vendor: "liveperson"},
		"unknown vendor":     {Tenant: "demo", Vendor: "bitrix24"},
		"traversal in id":    {Tenant: "demo", Vendor: "liveperson", ConversationID: "../x"},
		"unknown targettype": {Tenant: "demo", Vendor: "liveperson", Targets: []handoff.Target{{Type: "robot", ID: "1"}}},
	}
	for name, bad := range cases {
		if _, err := svc.Check(context.Background(), bad); handoff.ErrorCode(err) != handoff.CodeInvalidRequest {
			t.Errorf("%s: err = %v, want INVALID_REQUEST", name, err)
		}
	}
}
