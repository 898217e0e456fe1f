// Package load drives a running local stack (`make run`) with concurrent transfers, a share of
// them duplicates, and checks that nothing was lost or doubled: every idempotency key maps to
// exactly one transfer, which ends transferred and acked once, after exactly one vendor transfer
// call, as the vendor sandboxes count them (GET /_local/sandboxes). scripts/loadgen is its
// command; scripts/bench measures the functions' processes while it runs.
package load

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/sandboxes"
)

// VendorMixed drives every vendor of the plan in turn. A run can also drive one vendor: any
// sandbox registered in core/vendors/sandboxes with a load plan (sandbox.Spec.Load), which says
// which conversations and targets its demo sandbox takes again and again.
const VendorMixed = "mixed"

// Vendors are the vendors a run can drive, sorted: the registered sandboxes with a load plan.
func Vendors() []string { return registered(func(l *sandbox.Load) bool { return true }) }

// availabilityVendors are those whose load plan asks for availability too.
func availabilityVendors() []string {
	return registered(func(l *sandbox.Load) bool { return l.Availability != nil })
}

func registered(keep func(*sandbox.Load) bool) []string {
	var out []string
	for _, v := range slices.Sorted(maps.Keys(sandboxes.All)) {
		if l := sandboxes.All[v].Load; l != nil && keep(l) {
			out = append(out, v)
		}
	}
	return out
}

// reuses says whether the vendor takes the same conversation again (see sandbox.Load).
func reuses(vendor string) bool {
	l := sandboxes.All[vendor].Load
	return l != nil && l.Reuses
}

// Config is one load run.
type Config struct {
	URL         string // the local stack's gateway; loopback only
	Tenant      string // the tenant whose secrets point at the sandboxes: demo
	Total       int    // POST /transfers requests, duplicates included
	Concurrency int
	// Conversations the transfers are spread over where the vendor takes a conversation again
	// (Bitrix24: at most its 4 known chats). LivePerson and Kore.ai transfers each get their own.
	Conversations int
	DupShare      float64 // the share of Total that repeats an earlier request (same key, same body)
	Vendor        string  // one of Vendors() (bitrix24, liveperson, koreai), or mixed
	Availability  int     // GET /availability requests mixed in (skill-check), 0 for none
	// Duration bounds the sending; Settle bounds the wait for callbacks and acks afterwards.
	Duration time.Duration
	Settle   time.Duration
	Seed     uint64 // for the order of duplicates; 0 picks one
}

// Check refuses a config that cannot run, or that would send traffic off this machine.
func (c Config) Check() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT", c.URL)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-url %q: the load generator only talks to this machine (127.0.0.1)", c.URL)
	}
	switch {
	case c.Total < 1 || c.Total > 100_000:
		return errors.New("-n must be between 1 and 100000")
	case c.Concurrency < 1 || c.Concurrency > 256:
		return errors.New("-c must be between 1 and 256")
	case c.Conversations < 1:
		return errors.New("-conversations must be at least 1")
	case c.DupShare < 0 || c.DupShare >= 1:
		return errors.New("-dup must be in [0, 1)")
	case c.Availability < 0 || c.Availability > 10_000:
		return errors.New("-availability must be between 0 and 10000")
	case c.Duration <= 0 || c.Settle <= 0:
		return errors.New("-duration and -settle must be positive")
	}
	if vendors := Vendors(); c.Vendor != VendorMixed && !slices.Contains(vendors, c.Vendor) {
		return fmt.Errorf("-vendor %q: want %s or %s", c.Vendor, strings.Join(vendors, ", "), VendorMixed)
	}
	return nil
}

// job is one request to send.
type job struct {
	key          string // the Idempotency-Key; empty for an availability query
	vendor       string
	conversation string
	body         []byte // POST /transfers body; the same bytes for a duplicate
	dup          bool
	query        string // GET /availability?…
}

// transfer is one distinct idempotency key of the plan.
type transfer struct {
	key, vendor, conversation string
	target                    sandbox.Target
}

// plan is what a run sends, in order.
type plan struct {
	jobs      []job
	transfers []transfer
	run       string // this run's id, in every key and conversation it makes up
}

// makePlan lays the run out: the distinct transfers in order, each duplicate after its
// original — half of them within a few places (in flight together: IN_PROGRESS, then a replay),
// half anywhere later (a replay from the memo or the table) — and the availability queries
// spread through.
func makePlan(c Config) plan {
	seed := c.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := plan{run: randomHex(4)}
	dups := int(float64(c.Total)*c.DupShare + 0.5)
	distinct := max(c.Total-dups, 1)
	dups = c.Total - distinct

	type placed struct {
		at float64
		j  job
	}
	var order []placed
	vendors := Vendors()
	for i := range distinct {
		v := c.Vendor
		if v == VendorMixed {
			v = vendors[i%len(vendors)]
		}
		t := transfer{key: "load-" + p.run + "-" + strconv.Itoa(i), vendor: v}
		t.conversation, t.target = sandboxes.All[v].Load.Transfer(p.run, i, c.Conversations)
		p.transfers = append(p.transfers, t)
		order = append(order, placed{float64(i), job{key: t.key, vendor: v, conversation: t.conversation, body: body(c.Tenant, t, p.run)}})
	}
	for d := range dups {
		i := rng.IntN(distinct)
		orig := order[i].j
		orig.dup = true
		window := float64(2 * c.Concurrency)
		if d%2 == 1 {
			window = float64(distinct)
		}
		order = append(order, placed{float64(i) + 0.5 + rng.Float64()*window, orig})
	}
	avail := availabilityVendors()
	for q := range c.Availability {
		if len(avail) == 0 {
			break
		}
		v := avail[q%len(avail)]
		conv, target := sandboxes.All[v].Load.Availability(p.run, q)
		query := "tenant=" + url.QueryEscape(c.Tenant) + "&vendor=" + v + "&conversationId=" + url.QueryEscape(conv)
		if target != nil {
			query += "&target=" + url.QueryEscape(target.Type+":"+target.ID)
		}
		order = append(order, placed{rng.Float64() * float64(distinct), job{vendor: v, query: query}})
	}
	slices.SortStableFunc(order, func(a, b placed) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	for _, o := range order {
		p.jobs = append(p.jobs, o.j)
	}
	return p
}

// body is the POST /transfers body of t: one target the sandbox accepts, no fallback (a refusal
// shows as a failed transfer), a webhook bot to ack.
func body(tenant string, t transfer, run string) []byte {
	b, _ := json.Marshal(map[string]any{
		"tenant": tenant, "vendor": t.vendor, "conversation": map[string]string{"id": t.conversation},
		"target": t.target, "note": "Load test " + run + ".", "bot": map[string]string{"vendor": "webhook"},
		"metadata": map[string]string{"loadRun": run},
	})
	return b
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
