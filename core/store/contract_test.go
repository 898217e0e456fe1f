package store_test

import (
	"handoff/core/notify"
	"handoff/core/store"
	"handoff/core/store/memstore"
	usecase "handoff/core/transfer"
)

// Both stores serve the same use cases.
var (
	_ usecase.Store = (*store.Store)(nil)
	_ notify.Store  = (*store.Store)(nil)
	_ usecase.Store = (*memstore.Store)(nil)
	_ notify.Store  = (*memstore.Store)(nil)
)
