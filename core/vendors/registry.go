package vendors

import "sort"

// Factory builds one vendor's adapter from the shared dependencies. The adapter implements any of
// Transferer, Acker, AvailabilityChecker and CallbackParser.
type Factory func(Deps) any

// Adapt turns a vendor package's typed constructor into a Factory, so registering a vendor is one
// line: koreai.Key: vendors.Adapt(koreai.New).
func Adapt[T any](constructor func(Deps) T) Factory {
	return func(d Deps) any { return constructor(d) }
}

// Registry holds one adapter per vendor key.
type Registry struct {
	adapters map[string]any
}

// NewRegistry builds every adapter. Constructors do no I/O, so this is cheap at start-up.
func NewRegistry(d Deps, factories map[string]Factory) *Registry {
	r := &Registry{adapters: make(map[string]any, len(factories))}
	for name, build := range factories {
		r.adapters[name] = build(d)
	}
	return r
}

// Names lists the registered vendor keys, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.adapters))
	for n := range r.adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Transferer returns the vendor's transfer adapter, if it has one.
func (r *Registry) Transferer(name string) (Transferer, bool) { return lookup[Transferer](r, name) }

// Acker returns the vendor's bot-ack adapter, if it has one.
func (r *Registry) Acker(name string) (Acker, bool) { return lookup[Acker](r, name) }

// Availability returns the vendor's availability adapter, if it has one.
func (r *Registry) Availability(name string) (AvailabilityChecker, bool) {
	return lookup[AvailabilityChecker](r, name)
}

// CallbackParser returns the vendor's webhook reader, if it has one.
func (r *Registry) CallbackParser(name string) (CallbackParser, bool) {
	return lookup[CallbackParser](r, name)
}

func lookup[T any](r *Registry, name string) (T, bool) {
	a, ok := r.adapters[name].(T)
	return a, ok
}
