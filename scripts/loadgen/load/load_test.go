package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/sandbox"
	"handoff/scripts/localstack/demo"
)

func TestPlanPutsEachDuplicateAfterItsOriginal(t *testing.T) {
	cfg := Config{Total: 500, Concurrency: 8, Conversations: 9, DupShare: 0.3, Vendor: VendorMixed, Availability: 20, Tenant: "demo", Seed: 7}
	p := makePlan(cfg)
	if len(p.transfers) != 350 || len(p.jobs) != 520 {
		t.Fatalf("%d transfers, %d jobs; want 350 and 520", len(p.transfers), len(p.jobs))
	}
	seen := map[string]string{}
	vendors := map[string]int{}
	chats := map[string]bool{}
	convs := map[string]string{}
	for _, j := range p.jobs {
		if j.query != "" {
			continue
		}
		body, ok := seen[j.key]
		switch {
		case j.dup && !ok:
			t.Fatalf("duplicate of %s before its original", j.key)
		case j.dup && body != string(j.body):
			t.Fatalf("duplicate of %s with another body", j.key)
		case !j.dup && ok:
			t.Fatalf("key %s planned twice as an original", j.key)
		}
		if !j.dup {
			seen[j.key] = string(j.body)
			vendors[j.vendor]++
			if j.vendor == "bitrix24" {
				chats[j.conversation] = true
			} else if other, taken := convs[j.conversation]; taken {
				t.Fatalf("%s conversation %s reused by %s and %s", j.vendor, j.conversation, other, j.key)
			}
			convs[j.conversation] = j.key
		}
	}
	if vendors["bitrix24"] < 116 || vendors["liveperson"] < 116 || vendors["koreai"] < 116 {
		t.Errorf("vendors %v, want a third each", vendors)
	}
	if len(chats) != 4 {
		t.Errorf("Bitrix24 chats %v, want the sandbox's 4", chats)
	}
}

func TestCheckKeepsTrafficOnThisMachine(t *testing.T) {
	base := Config{Total: 1, Concurrency: 1, Conversations: 1, Vendor: "bitrix24", Duration: time.Second, Settle: time.Second}
	for url, ok := range map[string]bool{
		"http://127.0.0.1:3000": true, "http://localhost:3000": true, "http://[::1]:3000": true,
		"http://10.0.0.5:3000": false, "https://127.0.0.1:3000": false, "http://example.com": false,
	} {
		c := base
		c.URL = url
		if err := c.Check(); (err == nil) != ok {
			t.Errorf("%s: Check() = %v", url, err)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds)
	if p.P50 != 51*time.Millisecond || p.P95 != 96*time.Millisecond || p.P99 != 100*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Errorf("percentiles = %+v", p)
	}
}

// fakeStack answers as the local stack does, with the faults a test turns on.
type fakeStack struct {
	mu        sync.Mutex
	byKey     map[string]string // key → transfer id
	transfers map[string]string // id → status
	counters  demo.Counters
	n         int
	// The faults: a duplicate gets a new transfer; every call to conversations with this prefix
	// is made twice; a transfer is forgotten; transfers stay pending; acks are sent twice.
	doubleKeys, forget, pending, doubleAcks bool
	doubleCallsTo                           string
}

func newFake() *fakeStack {
	f := &fakeStack{byKey: map[string]string{}, transfers: map[string]string{}, counters: demo.Counters{}}
	for _, v := range []string{"bitrix24", "liveperson", "koreai"} {
		f.counters[v] = sandbox.Counters{ByConversation: map[string]int{}}
	}
	f.counters["webhook"] = sandbox.Counters{ByTransfer: map[string]int{}}
	return f
}

func (f *fakeStack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == demo.CountersPath:
		b, _ := json.Marshal(f.counters)
		w.Write(b)
	case r.Method == http.MethodPost && r.URL.Path == "/transfers":
		var req struct {
			Vendor       string              `json:"vendor"`
			Conversation struct{ ID string } `json:"conversation"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		key := r.Header.Get("Idempotency-Key")
		id, ok := f.byKey[key]
		if !ok || f.doubleKeys {
			f.n++
			id = fmt.Sprint("tr-", f.n)
			f.byKey[key] = id
			status := "transferred"
			if f.pending {
				status = "pending"
			}
			f.transfers[id] = status
			c := f.counters[req.Vendor] // its maps are shared: changing them changes the reading
			calls := 1
			if f.doubleCallsTo != "" && strings.HasPrefix(req.Conversation.ID, f.doubleCallsTo) {
				calls = 2
			}
			c.TransferCalls += calls
			c.ByConversation[req.Conversation.ID] += calls
			f.counters[req.Vendor] = c
			if !f.pending {
				f.counters["webhook"].ByTransfer[id]++
				if f.doubleAcks {
					f.counters["webhook"].ByTransfer[id]++
				}
			}
			if f.forget {
				delete(f.transfers, id)
			}
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"status":%q}`, id, f.transfers[id])
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/transfers/"):
		status, ok := f.transfers[strings.TrimPrefix(r.URL.Path, "/transfers/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{"status":%q}`, status)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func runAgainst(t *testing.T, f *fakeStack, vendor string) Report {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := Config{URL: srv.URL, Tenant: "demo", Total: 40, Concurrency: 4, Conversations: 4, DupShare: 0.25,
		Vendor: vendor, Duration: 10 * time.Second, Settle: time.Second, Seed: 1}
	run, err := Drive(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return run.Verify(context.Background())
}

func TestVerifyPassesACleanRun(t *testing.T) {
	rep := runAgainst(t, newFake(), VendorMixed)
	if !rep.OK() || rep.Keys != 30 || rep.Duplicates != 10 || rep.Transfers != 30 || rep.Acked != 30 {
		t.Errorf("report %+v", rep)
	}
	if v := rep.Vendors["bitrix24"]; v.Made != v.Expected || v.Made != 10 {
		t.Errorf("bitrix24 calls %+v, want 10/10", v)
	}
}

// A LivePerson or Kore.ai sandbox refuses a second transfer of a conversation: a repeat call is
// a reconcile the vendor answered "already done", noted, not a doubled transfer.
func TestVerifyNotesRepeatsTheVendorRefused(t *testing.T) {
	f := newFake()
	f.doubleCallsTo = livepersonsandbox.DemoChatPrefix // the chats the load plan gives LivePerson
	rep := runAgainst(t, f, "liveperson")
	if !rep.OK() || rep.Repeats != 30 || len(rep.Notes) == 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestVerifyFindsWhatWentWrong(t *testing.T) {
	cases := map[string]struct {
		fault  func(*fakeStack)
		vendor string
		check  func(Report) bool
	}{
		"a duplicate made a second transfer": {func(f *fakeStack) { f.doubleKeys = true }, VendorMixed,
			func(r Report) bool { return r.Doubled > 0 }},

		"a transfer was forgotten":         {func(f *fakeStack) { f.forget = true }, VendorMixed, func(r Report) bool { return r.Lost > 0 }},
		"transfers stayed pending":         {func(f *fakeStack) { f.pending = true }, "koreai", func(r Report) bool { return r.Failed > 0 && r.Unacked > 0 }},
		"acks were sent twice":             {func(f *fakeStack) { f.doubleAcks = true }, "bitrix24", func(r Report) bool { return r.DoubledAcks > 0 }},
		"a Bitrix24 chat was called twice": {func(f *fakeStack) { f.doubleCallsTo = "113" }, "bitrix24", func(r Report) bool { return r.Doubled > 0 }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			c.fault(f)
			rep := runAgainst(t, f, c.vendor)
			if rep.OK() || (c.check != nil && !c.check(rep)) {
				t.Errorf("report %+v", rep)
			}
		})
	}
}
