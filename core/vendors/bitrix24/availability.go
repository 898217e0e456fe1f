package bitrix24

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// line is one open line of imopenlines.config.list.get; other fields are ignored. Bitrix24
// sends ids as strings; numbers are accepted too.
type line struct {
	ID     json.RawMessage `json:"ID"`
	Name   string          `json:"LINE_NAME"`
	Active string          `json:"ACTIVE"`
}

// Availability lists the tenant's open lines as queue targets, available when the line is
// active. It reports configured lines, not live operator presence [I]: Bitrix24's bot API has
// no call that says whether an operator of a line is online now, so an active line may still
// find nobody (the transfer then queues the chat on the line). When req.Targets is given, only
// the queue targets among them are answered; agents and next cannot be checked in advance.
func (a *Adapter) Availability(ctx context.Context, req vendors.AvailabilityRequest) ([]handoff.Availability, error) {
	const op = "bitrix24.Availability"
	s, err := a.load(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	lines, err := a.allLines(ctx, s)
	if err != nil {
		return nil, err
	}
	wanted := queueIDs(req.Targets)
	out := make([]handoff.Availability, 0, len(lines))
	for _, l := range lines {
		id, ok := lineID(l.ID)
		if !ok {
			return nil, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24 listed an open line without an ID", nil)
		}
		if wanted != nil && !wanted[id] {
			continue
		}
		out = append(out, handoff.Availability{Type: handoff.TargetQueue, ID: id, Name: l.Name, Available: l.Active == "Y"})
	}
	sort.SliceStable(out, func(i, j int) bool { return numericLess(out[i].ID, out[j].ID) })
	return out, nil
}

// maxLinePages bounds the pages read: 40 pages of 50 lines, far more than a portal has, and
// a guard against an answer whose next never ends.
const maxLinePages = 40

// allLines reads every page of imopenlines.config.list.get: list methods answer at most 50
// items a page, with "next" the start of the following one (list-methods-pecularities.md).
func (a *Adapter) allLines(ctx context.Context, s *session) ([]line, error) {
	const op = "bitrix24.Availability"
	var lines []line
	var start int64
	for range maxLinePages {
		params := map[string]any{}
		if start > 0 {
			params["start"] = start
		}
		rep, err := a.invoke(ctx, s, call{op: op, method: methodConfigList, params: params, idempotent: true})
		if err != nil {
			return nil, mapped(op, err, false)
		}
		page, err := decodeLines(rep.result)
		if err != nil {
			return nil, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24 answered with open lines its documentation does not describe", nil)
		}
		lines = append(lines, page...)
		if rep.next == 0 {
			return lines, nil
		}
		if rep.next <= start {
			return nil, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24's next page of open lines does not move forward", nil)
		}
		start = rep.next
	}
	return nil, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24 listed more open lines than Handoff reads", nil)
}

// decodeLines accepts the list as an array or, as PHP encodes arrays with gaps in their keys,
// as an object of lines.
func decodeLines(result json.RawMessage) ([]line, error) {
	result = bytes.TrimSpace(result)
	var lines []line
	if len(result) > 0 && result[0] == '{' {
		var byKey map[string]line
		if err := json.Unmarshal(result, &byKey); err != nil {
			return nil, err
		}
		for _, l := range byKey {
			lines = append(lines, l)
		}
		return lines, nil
	}
	err := json.Unmarshal(result, &lines)
	return lines, err
}

func lineID(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		s = n.String()
	}
	_, ok := positiveInt(s)
	return s, ok
}

func queueIDs(targets []handoff.Target) map[string]bool {
	if len(targets) == 0 {
		return nil
	}
	ids := map[string]bool{}
	for _, t := range targets {
		if t.Type == handoff.TargetQueue {
			ids[t.ID] = true
		}
	}
	return ids
}

func numericLess(a, b string) bool {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return x < y
}
