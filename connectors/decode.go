package connectors

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/mailru/easyjson/jlexer"
)

// decodeAnswer decodes a service's answer as the mapping language reads it: maps
// with string keys, lists, strings, json.Number, booleans and nil. An answer that
// is valid UTF-8 and one valid JSON value is decoded by a lexer without
// reflection; any other goes through encoding/json, which says what is wrong with
// it (and replaces bad UTF-8 as it always has), so both give the same values.
func decodeAnswer(body []byte) (any, error) {
	if utf8.Valid(body) && json.Valid(body) {
		l := jlexer.Lexer{Data: body}
		v := lexValue(&l)
		if err := l.Error(); err == nil {
			return v, nil
		}
	}
	var answer any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&answer); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailing
	}
	return answer, nil
}

// lexValue reads one JSON value, numbers as json.Number.
func lexValue(l *jlexer.Lexer) any {
	switch l.CurrentToken() {
	case jlexer.TokenString:
		return l.String()
	case jlexer.TokenNumber:
		return l.JsonNumber()
	case jlexer.TokenBool:
		return l.Bool()
	case jlexer.TokenNull:
		l.Null()
		return nil
	}
	if l.IsDelim('{') {
		l.Delim('{')
		m := map[string]any{}
		for !l.IsDelim('}') && l.Ok() {
			k := l.String()
			l.WantColon()
			m[k] = lexValue(l)
			l.WantComma()
		}
		l.Delim('}')
		return m
	}
	l.Delim('[')
	list := []any{}
	for !l.IsDelim(']') && l.Ok() {
		list = append(list, lexValue(l))
		l.WantComma()
	}
	l.Delim(']')
	return list
}
