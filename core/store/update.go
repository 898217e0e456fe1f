package store

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// update builds one conditional write: SET and REMOVE clauses and a condition, with their names
// and values. It is sent as an UpdateItem, or, when the item it applies to is known as stored,
// applied to that item and sent whole as a PutItem under the same condition (see putWhole).
type update struct {
	sets, removes, conds []string
	names                map[string]string
	values               item
	condNames            map[string]string
	condValues           item
	edits                []func(item) // the same changes, made to an item in hand
}

func newUpdate() *update {
	return &update{names: map[string]string{}, values: item{}, condNames: map[string]string{}, condValues: item{}}
}

func (u *update) name(attr string) string {
	n := "#" + attr
	u.names[n] = attr
	return n
}

func (u *update) value(v types.AttributeValue) string {
	n := ":u" + strconv.Itoa(len(u.values))
	u.values[n] = v
	return n
}

func (u *update) set(attr string, v types.AttributeValue) {
	u.sets = append(u.sets, u.name(attr)+" = "+u.value(v))
	u.edits = append(u.edits, func(it item) { it[attr] = v })
}

// appendList appends l to the list attr, starting it when absent.
func (u *update) appendList(attr string, l *types.AttributeValueMemberL) {
	n := u.name(attr)
	empty := u.value(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})
	u.sets = append(u.sets, n+" = list_append(if_not_exists("+n+", "+empty+"), "+u.value(l)+")")
	u.edits = append(u.edits, func(it item) {
		var old []types.AttributeValue
		if cur, ok := it[attr].(*types.AttributeValueMemberL); ok {
			old = cur.Value
		}
		it[attr] = &types.AttributeValueMemberL{Value: append(slices.Clip(old), l.Value...)}
	})
}

func (u *update) remove(attrs ...string) {
	for _, a := range attrs {
		u.removes = append(u.removes, u.name(a))
		u.edits = append(u.edits, func(it item) { delete(it, a) })
	}
}

func (u *update) cond(expr string, names map[string]string, values item) {
	u.conds = append(u.conds, "("+expr+")")
	maps.Copy(u.condNames, names)
	maps.Copy(u.condValues, values)
}

// condition is the conjunction of the conditions, or nil.
func (u *update) condition() *string {
	if len(u.conds) == 0 {
		return nil
	}
	return aws.String(strings.Join(u.conds, " AND "))
}

func (u *update) input(table string, key item) *dynamodb.UpdateItemInput {
	expr := "SET " + strings.Join(u.sets, ", ")
	if len(u.removes) > 0 {
		expr += " REMOVE " + strings.Join(u.removes, ", ")
	}
	names, values := maps.Clone(u.names), maps.Clone(u.values)
	maps.Copy(names, u.condNames)
	maps.Copy(values, u.condValues)
	return &dynamodb.UpdateItemInput{
		TableName: &table, Key: key, UpdateExpression: aws.String(expr),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ConditionExpression: u.condition(),
	}
}

// applyTo is stored after the update, when stored is the item as it stands.
func (u *update) applyTo(stored item) item {
	it := maps.Clone(stored)
	for _, edit := range u.edits {
		edit(it)
	}
	return it
}

// putInput writes the update applied to stored, whole, under the update's condition.
func (u *update) putInput(table string, stored item) *dynamodb.PutItemInput {
	in := &dynamodb.PutItemInput{TableName: &table, Item: u.applyTo(stored), ConditionExpression: u.condition()}
	if len(u.condNames) > 0 {
		in.ExpressionAttributeNames, in.ExpressionAttributeValues = u.condNames, u.condValues
	}
	return in
}
