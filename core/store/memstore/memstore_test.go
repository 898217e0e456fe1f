package memstore_test

import (
	"testing"

	"handoff/core/store/memstore"
	"handoff/core/store/storetest"
	"handoff/core/testkit"
)

func TestBehaviour(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, clock *testkit.Clock) storetest.Store { return memstore.New(clock.Now) })
}
