package testkit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/testkit"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	c := testkit.NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	c.Advance(time.Minute)
	if !c.Now().Equal(start.Add(time.Minute)) {
		t.Errorf("after Advance: %v", c.Now())
	}
	var wall testkit.Clock
	wall.Advance(time.Hour)
	if wall.Now().Before(time.Now().Add(59 * time.Minute)) {
		t.Errorf("a zero Clock advanced an hour reads %v", wall.Now())
	}
}

func TestBufferTakesConcurrentWriters(t *testing.T) {
	var b testkit.Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 10 {
		t.Errorf("%d lines, want 10", n)
	}
}
