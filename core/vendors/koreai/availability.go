package koreai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// maxAvailabilityTargets bounds one question: each queue or skill costs one call, and Kore allows
// 60 calls a minute per account [C].
const maxAvailabilityTargets = handoff.MaxFallbacks + 1

// availabilityQuery is agents/availability's body [C]; every list is optional.
type availabilityQuery struct {
	SkillIDs []string `json:"skillIds"`
	QueueIDs []string `json:"queueIds"`
	AgentIDs []string `json:"agentIds"`
}

// Availability asks Kore which of the given agents, queues and skills can take a conversation.
// Kore answers with agents sorted into status buckets and does not say which queue or skill
// each agent came from [C], so agents are asked in one call and each queue or skill in a call of
// its own. Kore needs ids: with no targets the question cannot be asked.
func (a *Adapter) Availability(ctx context.Context, req vendors.AvailabilityRequest) ([]handoff.Availability, error) {
	const op = "koreai.Availability"
	if len(req.Targets) == 0 {
		return nil, &handoff.Error{Code: handoff.CodeInvalidRequest, Op: op, Field: "target",
			Message: "Kore.ai answers availability only for named agents, queues or skills: give at least one target=type:id"}
	}
	if len(req.Targets) > maxAvailabilityTargets {
		return nil, &handoff.Error{Code: handoff.CodeInvalidRequest, Op: op, Field: "target",
			Message: fmt.Sprintf("at most %d targets at a time", maxAvailabilityTargets)}
	}
	var agentIDs []string
	for i, t := range req.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		if t.Type != handoff.TargetAgent && t.Type != handoff.TargetQueue && t.Type != handoff.TargetSkill {
			return nil, &handoff.Error{Code: handoff.CodeUnsupportedTarget, Op: op, Field: field + ".type",
				Message: "Kore.ai answers availability for agents, queues and skills only"}
		}
		if err := handoff.ValidateID(field+".id", t.ID); err != nil {
			return nil, err
		}
		if t.Type == handoff.TargetAgent {
			agentIDs = append(agentIDs, t.ID)
		}
	}
	var agents agentBuckets
	if len(agentIDs) > 0 {
		var err error
		if agents, err = a.askAvailability(ctx, req.Tenant, availabilityQuery{AgentIDs: agentIDs}); err != nil {
			return nil, err
		}
	}
	out := make([]handoff.Availability, 0, len(req.Targets))
	for _, t := range req.Targets {
		switch t.Type {
		case handoff.TargetAgent:
			out = append(out, agents.agent(t.ID))
		default:
			q := availabilityQuery{}
			if t.Type == handoff.TargetQueue {
				q.QueueIDs = []string{t.ID}
			} else {
				q.SkillIDs = []string{t.ID}
			}
			group, err := a.askAvailability(ctx, req.Tenant, q)
			if err != nil {
				return nil, err
			}
			out = append(out, group.group(t))
		}
	}
	return out, nil
}

func (a *Adapter) askAvailability(ctx context.Context, tenant string, q availabilityQuery) (agentBuckets, error) {
	const op = "koreai.Availability"
	for _, list := range []*[]string{&q.SkillIDs, &q.QueueIDs, &q.AgentIDs} {
		if *list == nil {
			*list = []string{} // Kore's sample sends every list; [] says "none" where null may not [U]
		}
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, handoff.E(handoff.CodeInternal, op, "could not encode the request", err)
	}
	resp, err := a.send(ctx, tenant, func(creds Credentials) (rest.Request, error) {
		return rest.Request{
			Op:         op,
			Method:     http.MethodPost,
			URL:        rest.JoinURL(creds.BaseURL, "agentassist", "api", "v1", "public", creds.StreamID, "agents", "availability"),
			Body:       body,
			Idempotent: true, // a read: asking twice changes nothing
		}, nil
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		e, _ := mapError(op, resp, a.deps.Now())
		a.deps.Log.Warn("koreai: availability refused", "tenant", tenant, "status", resp.Status, "code", e.Code)
		return nil, e
	}
	return decodeBuckets(op, resp.Body)
}

// The status buckets of agents/availability's answer [C].
const (
	bucketAvailable = "AVAILABLE"
	bucketBusy      = "BUSY"
	bucketOffline   = "OFFLINE"
	bucketAway      = "AWAY"
)

// agentBuckets maps a bucket to its agents.
type agentBuckets map[string][]agentStatus

type agentStatus struct {
	ID              string                     `json:"_id"`
	FirstName       string                     `json:"firstName"`
	LastName        string                     `json:"lastName"`
	ChannelCapacity map[string]channelCapacity `json:"channelCapacity"`
}

type channelCapacity struct {
	IsEnabled         *bool   `json:"isEnabled"`
	AvailableCapacity float64 `json:"availableCapacity"`
}

// decodeBuckets reads the answer: a JSON object with at least one of the four buckets, each an
// array of agents with an _id. Anything else is not the documented answer.
func decodeBuckets(op string, body []byte) (agentBuckets, error) {
	bad := func(why string) error {
		return handoff.E(handoff.CodeVendorProtocol, op, "Kore.ai's availability answer "+why, nil)
	}
	fields, ok := jsonObject(body)
	if !ok {
		return nil, bad("is not a JSON object")
	}
	buckets := agentBuckets{}
	for _, name := range []string{bucketAvailable, bucketBusy, bucketOffline, bucketAway} {
		raw, present := fields[name]
		if !present {
			continue
		}
		var agents []agentStatus
		if err := json.Unmarshal(raw, &agents); err != nil {
			return nil, bad("has a " + name + " list of the wrong shape")
		}
		for _, ag := range agents {
			if ag.ID == "" {
				return nil, bad("lists an agent without _id")
			}
		}
		buckets[name] = agents
	}
	if len(buckets) == 0 {
		return nil, bad("has none of the AVAILABLE, BUSY, OFFLINE, AWAY lists")
	}
	return buckets, nil
}

// canChat reports whether an agent can take one more chat: Kore's live chat or messaging channel
// is enabled (or not said to be disabled) with capacity left.
func (s agentStatus) canChat() bool {
	for _, channel := range []string{"liveChat", "messaging"} {
		c, ok := s.ChannelCapacity[channel]
		if ok && (c.IsEnabled == nil || *c.IsEnabled) && c.AvailableCapacity > 0 {
			return true
		}
	}
	return false
}

// agent is one agent's availability: in AVAILABLE with chat capacity left.
func (b agentBuckets) agent(id string) handoff.Availability {
	out := handoff.Availability{Type: handoff.TargetAgent, ID: id}
	for bucket, agents := range b {
		for _, ag := range agents {
			if ag.ID != id {
				continue
			}
			out.Name = strings.TrimSpace(ag.FirstName + " " + ag.LastName)
			out.Available = out.Available || (bucket == bucketAvailable && ag.canChat())
		}
	}
	return out
}

// group is a queue's or skill's availability: at least one of its agents can take the chat.
// onlineAgents counts its agents who are signed in (AVAILABLE or BUSY), as the public API's
// example for skills does.
func (b agentBuckets) group(t handoff.Target) handoff.Availability {
	online := len(b[bucketAvailable]) + len(b[bucketBusy])
	out := handoff.Availability{Type: t.Type, ID: t.ID, OnlineAgents: &online}
	for _, ag := range b[bucketAvailable] {
		if ag.canChat() {
			out.Available = true
			break
		}
	}
	return out
}
