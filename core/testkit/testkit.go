// Package testkit holds the small test doubles several packages' tests share: a clock that moves
// only when the test says, and a buffer many goroutines can write logs and output to. It is
// imported by tests only.
package testkit

import (
	"bytes"
	"sync"
	"time"
)

// Clock is a time source a test moves by hand. Made with NewClock it stands still at its start;
// the zero value follows the wall clock, shifted by what Advance added (for code that also
// waits on real timers).
type Clock struct {
	mu     sync.Mutex
	start  time.Time
	offset time.Duration
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{start: start} }

// Now is the clock's time; pass the method value (c.Now) as a component's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Buffer is a bytes.Buffer safe for concurrent writers. The zero value is ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
