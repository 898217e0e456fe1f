package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"handoff/core/handoff"
	"handoff/core/notify"
)

// shown is what transfer show prints with --json.
type shown struct {
	Transfer handoff.Transfer `json:"transfer"`
	Timeline []handoff.Event  `json:"timeline"`
}

func (t *tool) transferShow(ctx context.Context, id string, asJSON bool) error {
	tr, err := t.store.Get(ctx, id)
	if err != nil {
		return err
	}
	timeline, err := t.store.Timeline(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(shown{tr, timeline}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(t.out, "%s\n", b)
		return err
	}
	fmt.Fprintf(t.out, "transfer %s  tenant %s  vendor %s  conversation %s\n", tr.ID, tr.Tenant, tr.Vendor, tr.Conversation.ID)
	fmt.Fprintf(t.out, "status   %s", tr.Status)
	if tr.Error != nil {
		fmt.Fprintf(t.out, "  %s: %s", tr.Error.Code, tr.Error.Message)
		if tr.Error.VendorCode != "" {
			fmt.Fprintf(t.out, " (%s)", tr.Error.VendorCode)
		}
	}
	fmt.Fprintf(t.out, "\nack      %s", tr.Ack.Status)
	if tr.Bot != nil {
		fmt.Fprintf(t.out, " to %s, %d attempt(s)", tr.Bot.Vendor, tr.Ack.Attempts)
	}
	if tr.Ack.Error != "" {
		fmt.Fprintf(t.out, ", last error %s", tr.Ack.Error)
	}
	fmt.Fprintf(t.out, "\ncreated  %s  updated %s\n", stamp(tr.CreatedAt), stamp(tr.UpdatedAt))
	if tr.ExpectedStartAt != nil {
		fmt.Fprintf(t.out, "queue    expected to start %s", stamp(*tr.ExpectedStartAt))
		if tr.EnqueuedAt != nil {
			fmt.Fprintf(t.out, ", enqueued %s", stamp(*tr.EnqueuedAt))
		}
		if tr.StartedAt != nil {
			fmt.Fprintf(t.out, ", started %s", stamp(*tr.StartedAt))
		}
		fmt.Fprintln(t.out)
	}
	fmt.Fprintln(t.out, "timeline:")
	for _, e := range timeline {
		fmt.Fprintf(t.out, "  %s  %-9s %s\n", stamp(e.At), e.Kind, eventText(e))
	}
	return nil
}

// eventText is a timeline entry's status and detail, "status: detail" when it has both.
func eventText(e handoff.Event) string {
	if e.Status != "" && e.Detail != "" {
		return string(e.Status) + ": " + e.Detail
	}
	return string(e.Status) + e.Detail
}

func stamp(at time.Time) string { return at.UTC().Format("2006-01-02T15:04:05.000Z") }

// ackRetry sends a final transfer's ack again, whatever became of the last one (failed after
// every retry, uncertain, or even sent): the operator asks for it knowingly. It records the
// request on the transfer's timeline, then delivers the ack as bot-ack would.
func (t *tool) ackRetry(ctx context.Context, id string) error {
	tr, err := t.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if !tr.Status.Final() {
		return fmt.Errorf("transfer %s is %s: its bot is told once it ends", id, tr.Status)
	}
	if tr.Bot == nil {
		return fmt.Errorf("transfer %s has no bot to tell", id)
	}
	after := tr
	after.Ack = handoff.Ack{Status: handoff.AckPending, SequenceID: tr.Ack.SequenceID}
	now := time.Now().UTC()
	after.UpdatedAt = now
	if _, err := t.store.Update(ctx, tr, after, handoff.Event{At: now, Kind: "ack", Detail: "retry asked by an operator (was " + string(tr.Ack.Status) + ")"}); err != nil {
		return err
	}
	n := notify.New(t.store, t.registry(t.storedSecrets()), t.bus, t.log)
	notifyErr := n.Notify(ctx, id)
	got, err := t.store.Get(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.out, "ack of %s to %s: %s", id, tr.Bot.Vendor, got.Ack.Status)
	if got.Ack.Error != "" {
		fmt.Fprintf(t.out, " (%s)", got.Ack.Error)
	}
	fmt.Fprintln(t.out)
	if notifyErr != nil {
		return fmt.Errorf("the ack is still pending; run ack retry again later: %w", notifyErr)
	}
	return nil
}
