package caddyauth

import (
	"encoding/json"
	"testing"
)

func TestTokenAnswerJSON(t *testing.T) {
	for _, a := range []tokenAnswer{
		{Token: "04AAAA+/=", UserID: "3001", ExpiresAt: 1700003600, ExpiresIn: 3600},
		{Token: "eyJ.a.b", UserID: "a<b>&\"c\\", Identity: "a<b>&\"c\\", RoomID: "r\u2028\xff", ExpiresAt: -1, ExpiresIn: 0},
	} {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s, encoding/json = %s", got, want)
		}
	}
}
