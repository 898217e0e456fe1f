package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"handoff/scripts/localstack/template"
)

// startSchedules invokes each function with a Schedule event every rate, as EventBridge
// Scheduler does, until the stack closes. Like Lambda's asynchronous invocation, an error is
// logged and the next tick tries again.
func (s *Stack) startSchedules() {
	runCtx, stop := context.WithCancel(context.Background())
	stopPollers := s.stopPollers
	s.stopPollers = func() {
		stop()
		if stopPollers != nil {
			stopPollers()
		}
	}
	for _, f := range s.cfg.Template.Functions {
		for _, sch := range f.Schedules {
			s.pollers.Go(func() { s.runSchedule(runCtx, f, sch) })
		}
	}
}

func (s *Stack) runSchedule(ctx context.Context, f template.Function, sch template.Schedule) {
	ticker := time.NewTicker(sch.Every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			payload := scheduledEvent(s.cfg.AWS.Region, f.LogicalID+"-"+sch.Event, now)
			if _, err := s.Functions[f.LogicalID].Invoke(ctx, payload); err != nil && ctx.Err() == nil {
				s.cfg.Log.Warn("stack: scheduled invocation failed", "function", f.LogicalID, "event", sch.Event, "error", err)
			}
		}
	}
}

// scheduledEvent is the event EventBridge sends for a schedule.
func scheduledEvent(region, rule string, at time.Time) []byte {
	var id [16]byte
	_, _ = rand.Read(id[:])
	if region == "" {
		region = "us-east-1"
	}
	b, _ := json.Marshal(map[string]any{
		"version": "0", "id": hex.EncodeToString(id[:]), "detail-type": "Scheduled Event",
		"source": "aws.events", "account": "123456789012", "time": at.UTC().Format(time.RFC3339),
		"region": region, "resources": []string{"arn:aws:events:" + region + ":123456789012:rule/" + rule},
		"detail": map[string]any{},
	})
	return b
}
