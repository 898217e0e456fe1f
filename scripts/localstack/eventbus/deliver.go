package eventbus

import (
	"encoding/json"
	"strings"
	"time"
)

// Delivery states, as GET /_local/events shows them.
const (
	statusPending   = "pending"
	statusRetrying  = "retrying"
	statusDelivered = "delivered"
	statusFailed    = "failed" // written to the dead-letter log
)

// Published is an event the bus took, with what became of it.
type Published struct {
	Event
	EventBusName string     `json:"eventBusName"`
	Deliveries   []Delivery `json:"deliveries"`
}

// Delivery is how one rule's delivery of an event went.
type Delivery struct {
	Rule      string `json:"rule"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"lastError,omitempty"`
}

// record is a published event and its deliveries, updated under Bus.mu.
type record struct {
	event      Event
	bus        string
	deliveries []*Delivery
}

func (r *record) snapshot() Published {
	p := Published{Event: r.event, EventBusName: r.bus, Deliveries: make([]Delivery, len(r.deliveries))}
	for i, d := range r.deliveries {
		p.Deliveries[i] = *d
	}
	return p
}

// newEvent validates an entry as PutEvents does and turns it into the event targets receive
// and the name of its bus; problem is PutEvents' message for an invalid entry.
func (b *Bus) newEvent(entry Entry) (event Event, bus, problem string) {
	switch {
	case entry.Source == "":
		return Event{}, "", "Parameter Source is not valid. Reason: Source is a required argument."
	case entry.DetailType == "":
		return Event{}, "", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	}
	var detail map[string]json.RawMessage
	if json.Unmarshal([]byte(entry.Detail), &detail) != nil {
		return Event{}, "", "Detail is malformed."
	}
	at := time.Now().UTC()
	if entry.Time > 0 {
		at = time.Unix(int64(entry.Time), 0).UTC()
	}
	resources := entry.Resources
	if resources == nil {
		resources = []string{}
	}
	event = Event{
		Version: "0", ID: newID(), DetailType: entry.DetailType, Source: entry.Source,
		Account: b.cfg.AccountID, Time: at.Format("2006-01-02T15:04:05Z"), Region: b.cfg.Region,
		Resources: resources, Detail: json.RawMessage(entry.Detail),
	}
	return event, busName(entry.EventBusName), ""
}

// busName reduces a bus ARN to its name; no name is the default bus.
func busName(nameOrARN string) string {
	if i := strings.LastIndex(nameOrARN, ":event-bus/"); i >= 0 {
		return nameOrARN[i+len(":event-bus/"):]
	}
	if nameOrARN == "" {
		return "default"
	}
	return nameOrARN
}

// publish records the event and starts a delivery per matching rule.
func (b *Bus) publish(event Event, bus string) {
	value := eventValue(event)
	payload, _ := json.Marshal(event)
	rec := &record{event: event, bus: bus}
	var rules []Rule
	for _, rule := range b.cfg.Rules {
		if rule.EventBusName == bus && rule.Pattern.MatchValue(value) {
			rules = append(rules, rule)
			rec.deliveries = append(rec.deliveries, &Delivery{Rule: rule.Name, Status: statusPending})
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records = append(b.records, rec)
	if len(b.records) > b.cfg.Keep {
		b.records = b.records[len(b.records)-b.cfg.Keep:]
	}
	for i, rule := range rules {
		if b.closed {
			rec.deliveries[i].Status, rec.deliveries[i].LastError = statusFailed, "the bus is closed"
			continue
		}
		b.wg.Add(1)
		go b.deliver(rule, rec, rec.deliveries[i], payload)
	}
}

// deliver invokes the rule's target until it succeeds, the retries are used up, the event is
// too old or the bus closes; then the event goes to the dead-letter log.
func (b *Bus) deliver(rule Rule, rec *record, d *Delivery, payload []byte) {
	defer b.wg.Done()
	published, _ := time.Parse("2006-01-02T15:04:05Z", rec.event.Time)
	for attempt := 1; ; attempt++ {
		_, err := rule.Target.Invoke(b.ctx, payload)
		b.update(d, attempt, err)
		if err == nil {
			return
		}
		b.cfg.Log.Warn("eventbus: delivery failed", "rule", rule.Name, "event", rec.event.ID, "attempt", attempt, "error", err)
		if attempt > rule.MaxRetryAttempts {
			b.deadLetter(rule, rec, d, "retries exhausted")
			return
		}
		if rule.MaxEventAge > 0 && time.Since(published) > rule.MaxEventAge {
			b.deadLetter(rule, rec, d, "event too old")
			return
		}
		select {
		case <-time.After(b.cfg.Backoff(attempt)):
		case <-b.ctx.Done():
			b.deadLetter(rule, rec, d, "the bus closed before the delivery succeeded")
			return
		}
	}
}

func (b *Bus) update(d *Delivery, attempt int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d.Attempts = attempt
	if err == nil {
		d.Status, d.LastError = statusDelivered, ""
		return
	}
	d.Status, d.LastError = statusRetrying, err.Error()
}

// deadLetter marks the delivery failed and writes the event to the dead-letter log.
func (b *Bus) deadLetter(rule Rule, rec *record, d *Delivery, reason string) {
	b.mu.Lock()
	d.Status = statusFailed
	line, _ := json.Marshal(map[string]any{
		"time": time.Now().UTC().Format(time.RFC3339), "source": "eventbus", "rule": rule.Name,
		"reason": reason, "attempts": d.Attempts, "lastError": d.LastError, "event": rec.event,
	})
	b.mu.Unlock()
	b.cfg.Log.Error("eventbus: event dead-lettered", "rule", rule.Name, "event", rec.event.ID, "reason", reason)
	if b.cfg.DeadLetters == nil {
		return
	}
	b.dlqMu.Lock()
	defer b.dlqMu.Unlock()
	b.cfg.DeadLetters.Write(append(line, '\n'))
}
