package playtime

import (
	"math"
	"strconv"
	"strings"
)

// Band is an age band: those of the spending rules for minors (under 8, 8
// to 15, 16 to 17), adults, and players whose age is unknown.
type Band uint8

// The bands. The zero Band is BandUnknown.
const (
	BandUnknown Band = iota
	BandUnder8
	Band8to15
	Band16to17
	BandAdult
)

var bandNames = [...]string{"unknown", "under8", "8-15", "16-17", "adult"}

// String returns the band's name: unknown, under8, 8-15, 16-17 or adult.
func (b Band) String() string {
	if int(b) < len(bandNames) {
		return bandNames[b]
	}
	return "unknown"
}

// Minor reports whether the band is one of a known minor.
func (b Band) Minor() bool { return b == BandUnder8 || b == Band8to15 || b == Band16to17 }

// MaxAge is the largest age ParseAge accepts.
const MaxAge = 150

// ParseAge reads an age in whole years as an identity claim gives it:
// decimal digits, or any other spelling of a JSON number (16.0, 1.6e1,
// +16, " 16") whose value is from 1 to MaxAge, rounded down (17.9 is 17:
// not yet 18). It returns 0 (unknown) for anything else: absent, 0,
// negative, larger than MaxAge, or not a number.
func ParseAge(s string) int {
	n, digits := 0, s != "" && len(s) <= 3
	for i := 0; digits && i < len(s); i++ {
		c := s[i]
		digits = c >= '0' && c <= '9'
		n = n*10 + int(c-'0')
	}
	if !digits {
		// A claim a verifier passes on as JSON text may spell a whole
		// age otherwise: reading it as unknown would make a minor an
		// adult under "unknown adult".
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(f >= 1 && f < MaxAge+1) {
			return 0
		}
		n = int(math.Floor(f))
	}
	if n > MaxAge {
		return 0
	}
	return n
}

// BandOf returns the band of an age in whole years: 0 (or less) is
// unknown, adultAge and above adult; below it under8, 8-15, then 16-17
// (which with an adultAge other than 18 covers 16 to adultAge-1; with an
// adultAge at or below 16 the minor bands above it are never given).
func BandOf(age, adultAge int) Band {
	switch {
	case age <= 0:
		return BandUnknown
	case age >= adultAge:
		return BandAdult
	case age < 8:
		return BandUnder8
	case age < 16:
		return Band8to15
	}
	return Band16to17
}
