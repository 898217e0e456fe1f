package streams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// deliver invokes the function with batch until every record in it succeeded, retrying from
// the first failure; retries counts the retries already spent on these records. Records that
// use up MaxRetryAttempts or outlive MaxRecordAge go to the dead-letter log.
func (p *Poller) deliver(ctx context.Context, batch []record, retries int) {
	for ctx.Err() == nil {
		batch = p.dropExpired(batch, retries)
		if len(batch) == 0 {
			return
		}
		failedFrom, err := p.invoke(ctx, batch)
		if ctx.Err() != nil {
			p.cfg.Log.Warn("streams: stopped before a batch was delivered", "table", p.cfg.Table, "records", len(batch))
			return
		}
		if err == nil && failedFrom == len(batch) {
			return
		}
		if err != nil && p.cfg.BisectBatchOnFunctionError && len(batch) > 1 {
			// Halving does not count as a retry, as in Lambda.
			half := len(batch) / 2
			p.deliver(ctx, batch[:half], retries)
			p.deliver(ctx, batch[half:], retries)
			return
		}
		if err == nil {
			batch, err = batch[failedFrom:], fmt.Errorf("the function reported %s as failed", batch[failedFrom].sequenceNumber())
		}
		p.cfg.Log.Warn("streams: batch failed", "table", p.cfg.Table, "records", len(batch), "retries", retries, "error", err)
		retries++
		if p.cfg.MaxRetryAttempts >= 0 && retries > p.cfg.MaxRetryAttempts {
			p.deadLetter(batch, "retries exhausted", retries, err)
			return
		}
		p.sleep(ctx, p.cfg.Backoff(retries))
	}
}

// invoke sends one batch and returns the index of the first record to retry (len(batch) when
// all succeeded), or an error when the whole batch failed.
func (p *Poller) invoke(ctx context.Context, batch []record) (int, error) {
	var payload bytes.Buffer
	payload.WriteString(`{"Records":[`)
	for i, r := range batch {
		if i > 0 {
			payload.WriteByte(',')
		}
		payload.Write(r.json)
	}
	payload.WriteString(`]}`)
	out, err := p.cfg.Target.Invoke(ctx, payload.Bytes())
	if err != nil {
		return 0, err
	}
	if !p.cfg.ReportBatchItemFailures {
		return len(batch), nil
	}
	return firstFailure(out, batch)
}

// batchResponse is the answer of a function with ReportBatchItemFailures.
type batchResponse struct {
	BatchItemFailures []struct {
		ItemIdentifier *string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// firstFailure reads a batch response as Lambda does: no response, or no failures, is
// success; a response that is not JSON, or names a record that is not in the batch, fails the
// whole batch; otherwise processing resumes at the earliest record reported.
func firstFailure(out []byte, batch []record) (int, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return len(batch), nil
	}
	var resp *batchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return 0, fmt.Errorf("the function's batch response is not valid: %w", err)
	}
	if resp == nil {
		return len(batch), nil
	}
	first := len(batch)
	for _, f := range resp.BatchItemFailures {
		i := indexOf(batch, f.ItemIdentifier)
		if i < 0 {
			return 0, errors.New("the function reported a failed item that is not in the batch")
		}
		first = min(first, i)
	}
	return first, nil
}

func indexOf(batch []record, sequenceNumber *string) int {
	if sequenceNumber == nil || *sequenceNumber == "" {
		return -1
	}
	for i, r := range batch {
		if r.sequenceNumber() == *sequenceNumber {
			return i
		}
	}
	return -1
}

// dropExpired dead-letters the records older than MaxRecordAge and returns the rest.
func (p *Poller) dropExpired(batch []record, retries int) []record {
	if p.cfg.MaxRecordAge <= 0 {
		return batch
	}
	var fresh, expired []record
	for _, r := range batch {
		if !r.at.IsZero() && time.Since(r.at) > p.cfg.MaxRecordAge {
			expired = append(expired, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	if len(expired) > 0 {
		p.deadLetter(expired, "record too old", retries, nil)
	}
	return fresh
}

// deadLetter writes records given up on to the dead-letter log, whole, so none is lost silently.
func (p *Poller) deadLetter(batch []record, reason string, retries int, lastErr error) {
	records := make([]json.RawMessage, len(batch))
	for i, r := range batch {
		records[i] = r.json
	}
	entry := map[string]any{
		"time": time.Now().UTC().Format(time.RFC3339), "source": "streams", "table": p.cfg.Table,
		"reason": reason, "retries": retries, "records": records,
	}
	if lastErr != nil {
		entry["lastError"] = lastErr.Error()
	}
	line, _ := json.Marshal(entry)
	p.cfg.Log.Error("streams: records dead-lettered", "table", p.cfg.Table, "records", len(batch), "reason", reason)
	if p.cfg.DeadLetters == nil {
		return
	}
	p.dlqMu.Lock()
	defer p.dlqMu.Unlock()
	p.cfg.DeadLetters.Write(append(line, '\n'))
}
