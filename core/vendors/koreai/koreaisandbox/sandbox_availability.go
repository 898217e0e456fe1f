package koreaisandbox

import (
	"net/http"
	"slices"

	"handoff/core/vendors/sandbox"
)

// availabilityBody is agents/availability's body [C]; every list is optional.
type availabilityBody struct {
	SkillIDs []string `json:"skillIds"`
	QueueIDs []string `json:"queueIds"`
	AgentIDs []string `json:"agentIds"`
}

// serveAvailability answers with the directory's agents that match any of the lists (all of
// them when no list names anything; whether Kore ands or ors the lists is [U]), sorted into
// the four status buckets with the documented fields.
func (s *Sandbox) serveAvailability(w http.ResponseWriter, r *http.Request, stream string, body []byte) {
	if !s.admit(w, r, stream) {
		return
	}
	if f, ok := s.availFaults.Next(); ok && playFault(w, r, f) {
		return
	}
	if s.rateLimited(w) {
		return
	}
	var q availabilityBody
	if !isJSON(r) {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "Content-Type must be application/json")
		return
	}
	if err := decodeStrict(body, &q, "skillIds", "queueIds", "agentIds"); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "Invalid body: "+err.Error())
		return
	}
	all := len(q.SkillIDs)+len(q.QueueIDs)+len(q.AgentIDs) == 0
	answer := map[string][]map[string]any{bucketAvailable: {}, bucketBusy: {}, bucketOffline: {}, bucketAway: {}}
	ids := make([]string, 0, len(sandboxAgents))
	for id := range sandboxAgents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := sandboxAgents[id]
		if all || slices.Contains(q.AgentIDs, id) || overlaps(q.QueueIDs, a.queues) || overlaps(q.SkillIDs, a.skill) {
			answer[a.bucket] = append(answer[a.bucket], a.record(id))
		}
	}
	sandbox.WriteJSON(w, http.StatusOK, answer)
}

// record is an agent as the docs' sample response shows one.
func (a sandboxAgent) record(id string) map[string]any {
	chat := func(total, used int) map[string]any {
		return map[string]any{"isEnabled": true, "totalCapacity": total, "usedCapacity": used, "availableCapacity": total - used}
	}
	return map[string]any{
		"_id": id, "userId": "u-" + id[2:], "firstName": a.first, "lastName": a.last,
		"emailId": a.first + "." + a.last + "@example.com", "customId": "", "phoneNumber": "",
		"isDigitalEnabled": true,
		"channelCapacity": map[string]any{
			"liveChat":  chat(a.chatCapacity, a.usedChat),
			"messaging": chat(a.chatCapacity, a.usedChat),
			"email":     chat(3, 0),
			"voice":     chat(1, 0),
			"voiceMail": chat(5, 0),
		},
	}
}

func overlaps(asked, has []string) bool {
	for _, id := range asked {
		if slices.Contains(has, id) {
			return true
		}
	}
	return false
}
