package store_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/awstest"
	"handoff/core/pacing"
	"handoff/core/pacing/pacingtest"
	"handoff/core/store"
)

// openPacing is n pacing stores, as n containers hold, on one fresh table in moto.
func openPacing(t *testing.T, n int) ([]*store.Pacing, *pacingOps) {
	t.Helper()
	env := awstest.New(t)
	db := dynamodb.NewFromConfig(env.Config)
	if err := store.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	c := &pacingOps{ops: map[string]int{}}
	out := make([]*store.Pacing, n)
	for i := range out {
		out[i] = store.NewPacing(dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) { o.HTTPClient = c }), table)
	}
	return out, c
}

// pacingOps counts the DynamoDB operations the pacing stores send, by name, and sends them one
// at a time. DynamoDB applies the writes to one item one after the other, each condition
// checked against the item as the write before left it; moto_server evaluates a condition and
// applies the update without a lock, so concurrent conditional writes to one item can both
// pass (seen here: eight transfers admitted to a queue bounded at seven). Serialising the
// requests gives the tests DynamoDB's order back, while the stores still interleave.
type pacingOps struct {
	send sync.Mutex
	mu   sync.Mutex
	ops  map[string]int
}

func (c *pacingOps) Do(r *http.Request) (*http.Response, error) {
	_, name, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	c.mu.Lock()
	c.ops[name]++
	c.mu.Unlock()
	c.send.Lock()
	defer c.send.Unlock()
	return http.DefaultClient.Do(r)
}

func (c *pacingOps) count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.ops)
}

func TestPacing(t *testing.T) {
	pacingtest.Run(t, func(t *testing.T, n int) []pacingtest.Store {
		stores, _ := openPacing(t, n)
		out := make([]pacingtest.Store, n)
		for i, s := range stores {
			out[i] = s
		}
		return out
	})
}

// A container draining a group takes each token with one UpdateItem, and learns a refusal
// from the refused write itself: no reads.
func TestPacingTakesATokenInOneWrite(t *testing.T) {
	stores, c := openPacing(t, 1)
	p := stores[0]
	ctx := context.Background()
	k := pacing.Key{Tenant: "acme", Vendor: "koreai"}
	l := pacing.PerSecond(2)
	now := pacingtest.Start
	for i := range 5 {
		g, err := p.Take(ctx, k, l, now, now)
		if err != nil {
			t.Fatal(err)
		}
		if !g.OK {
			t.Fatalf("take %d refused, next at %s", i, g.At)
		}
		g, err = p.Take(ctx, k, l, now, now)
		if err != nil {
			t.Fatal(err)
		}
		if g.OK || !g.At.Equal(now.Add(500*time.Millisecond)) {
			t.Fatalf("second take at once: %+v, want refused until +500ms", g)
		}
		now = now.Add(500 * time.Millisecond)
	}
	if ops := c.count(); len(ops) != 1 || ops["UpdateItem"] != 10 {
		t.Errorf("10 takes cost %v, want 10 UpdateItem", ops)
	}
}
