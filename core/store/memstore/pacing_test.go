package memstore_test

import (
	"testing"

	"handoff/core/pacing/pacingtest"
	"handoff/core/store/memstore"
)

func TestPacing(t *testing.T) {
	pacingtest.Run(t, func(_ *testing.T, n int) []pacingtest.Store {
		p := memstore.NewPacing()
		out := make([]pacingtest.Store, n)
		for i := range out {
			out[i] = p
		}
		return out
	})
}
