package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// skill is one entry of Retrieve Available Skills.
type skill struct {
	ID           string // canonical decimal
	Name         string
	OnlineAgents *int // nil when LivePerson did not say
}

// available: the doc lists only skills with an online agent not already in the chat [C], so a
// listed skill without a count is taken as available.
func (s skill) available() bool { return s.OnlineAgents == nil || *s.OnlineAgents > 0 }

// availableSkills calls Retrieve Available Skills for a chat, under the agent session holding it.
func (c *conn) availableSkills(ctx context.Context, op string, ref chatRef) ([]skill, error) {
	resp, err := c.call(ctx, func(s *session) rest.Request {
		return rest.Request{Op: op, Method: http.MethodGet, URL: s.chatURL(ref, "transfer"),
			Header: s.headers(), Idempotent: true}
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		e := vendorError(op, classify(phaseSkills, resp), resp, c.a.now())
		if e.Code == handoff.CodeVendorAuthFailed {
			c.a.authFailed(c.tenant, c.s)
		}
		return nil, e
	}
	skills, err := parseSkills(resp.Body)
	if err != nil {
		c.a.log.Warn("liveperson: unreadable skills answer", "tenant", c.tenant, "reason", err.Error())
		return nil, vendorError(op, condMalformedAnswer, nil, c.a.now())
	}
	return skills, nil
}

// parseSkills reads {"transfer": {"skill": ...}} defensively. The JSON is a mapping of XML, so
// [I]: a single skill may come as an object rather than a one-element array; ids and counts are
// strings in the doc but may be numbers; "@"-prefixed attribute names are accepted too. The
// shape of "no skill available" is undocumented [U]: "transfer" or "skill" missing, null, "",
// {} or [] all mean an empty list. Only a body without "transfer" at all, or a skill without a
// usable id, is refused.
func parseSkills(body []byte) ([]skill, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errString("the body is not a JSON object")
	}
	transfer, ok := top["transfer"]
	if !ok {
		return nil, errString(`the body has no "transfer"`)
	}
	if blank(transfer) {
		return nil, nil
	}
	var t map[string]json.RawMessage
	if err := json.Unmarshal(transfer, &t); err != nil {
		return nil, errString(`"transfer" is not an object`)
	}
	raw := t["skill"]
	if blank(raw) {
		return nil, nil
	}
	var entries []skillJSON
	switch bytes.TrimSpace(raw)[0] {
	case '[':
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, errString(`"skill" is not a list of skills: ` + err.Error())
		}
	case '{':
		var one skillJSON
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, errString(`"skill" is not a skill: ` + err.Error())
		}
		entries = []skillJSON{one}
	default:
		return nil, errString(`"skill" is neither a list nor an object`)
	}
	skills := make([]skill, 0, len(entries))
	for _, e := range entries {
		s, err := e.skill()
		if err != nil {
			return nil, err
		}
		skills = append(skills, s)
	}
	return skills, nil
}

type skillJSON struct {
	ID           flexString `json:"id"`
	AttrID       flexString `json:"@id"`
	Name         flexString `json:"name"`
	AttrName     flexString `json:"@name"`
	OnlineAgents flexString `json:"onlineAgents"`
}

func (e skillJSON) skill() (skill, error) {
	id := string(cmpOr(e.ID, e.AttrID))
	n, err := strconv.ParseUint(id, 10, 63)
	if err != nil {
		return skill{}, errString("a skill has no numeric id")
	}
	s := skill{ID: strconv.FormatUint(n, 10), Name: string(cmpOr(e.Name, e.AttrName))}
	if e.OnlineAgents != "" {
		count, err := strconv.Atoi(string(e.OnlineAgents))
		if err != nil || count < 0 {
			return skill{}, errString("a skill's onlineAgents is not a count")
		}
		s.OnlineAgents = &count
	}
	return s, nil
}

func cmpOr(a, b flexString) flexString {
	if a != "" {
		return a
	}
	return b
}

// blank reports a JSON value that holds nothing: absent, null, "", {} or [].
func blank(raw json.RawMessage) bool {
	switch string(bytes.Join(bytes.Fields(raw), nil)) {
	case "", "null", `""`, "{}", "[]":
		return true
	}
	return false
}

// flexString is a JSON string or number, as text: LivePerson's XML-mapped JSON writes numbers
// as strings, and we do not rely on that staying so.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return errors.New("want a string or a number")
		}
		*f = flexString(n.String())
	}
	return nil
}

// checkSkill makes sure a skill can take the chat before transferring to it, as LivePerson
// recommends: a skill that is not listed, or listed without an online agent, is
// TARGET_UNAVAILABLE, so the transfer service moves to the next fallback without a transfer.
func (c *conn) checkSkill(ctx context.Context, ref chatRef, skillID string) error {
	skills, err := c.availableSkills(ctx, opTransfer, ref)
	if err != nil {
		return err
	}
	for _, s := range skills {
		if s.ID == skillID {
			if !s.available() {
				return vendorError(opTransfer, condSkillOffline, nil, c.a.now())
			}
			return nil
		}
	}
	return vendorError(opTransfer, condSkillNotListed, nil, c.a.now())
}

// Availability lists the skills that can take the conversation now (Retrieve Available Skills),
// asked under the agent session holding the chat (found with Retrieve Chat Sessions). With
// Targets, only the skill targets asked about are answered, a skill that is not listed as
// unavailable with no online agent; agent targets are left out, as this call cannot tell.
func (a *Adapter) Availability(ctx context.Context, req vendors.AvailabilityRequest) ([]handoff.Availability, error) {
	if err := handoff.ValidateID("conversationId", req.ConversationID); err != nil {
		return nil, err
	}
	c, err := a.connect(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	ref, _, err := c.locate(ctx, opAvailability, handoff.Conversation{ID: req.ConversationID}, false)
	if err != nil {
		if e := handoff.AsError(err); e.Code == handoff.CodeConversationNotFound {
			e.Field = "conversationId"
		}
		return nil, err
	}
	skills, err := c.availableSkills(ctx, opAvailability, ref)
	if err != nil {
		return nil, err
	}
	if len(req.Targets) == 0 {
		out := make([]handoff.Availability, 0, len(skills))
		for _, s := range skills {
			out = append(out, s.availability())
		}
		return out, nil
	}
	byID := make(map[string]skill, len(skills))
	for _, s := range skills {
		byID[s.ID] = s
	}
	var out []handoff.Availability
	for _, t := range req.Targets {
		if t.Type != handoff.TargetSkill {
			continue
		}
		id, err := numericID(t)
		if err != nil {
			return nil, err
		}
		s, ok := byID[id]
		if !ok {
			zero := 0
			s = skill{ID: id, OnlineAgents: &zero}
		}
		out = append(out, s.availability())
	}
	return out, nil
}

func (s skill) availability() handoff.Availability {
	return handoff.Availability{Type: handoff.TargetSkill, ID: s.ID, Name: s.Name,
		Available: s.available(), OnlineAgents: s.OnlineAgents}
}
