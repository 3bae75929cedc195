"""English words the answerers look for, in one place: month and day names, number words,
negations, and the words that open a question."""

from __future__ import annotations

import re
from collections.abc import Iterable


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _in_order(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def alternation(words: Iterable[str]) -> str:
    """A regex that matches any of ``words`` as a whole word (longest first)."""
    return r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b"


MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: The values of number words up to a hundred ("twenty-seven" is "twenty" and "seven").
ONES = _in_order(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
TENS = _in_order("twenty thirty forty fifty sixty seventy eighty ninety")
NUMBER_VALUES = {
    **{w: n for n, w in enumerate(ONES)},
    **{w: 10 * n for n, w in enumerate(TENS, start=2)},
    "hundred": 100,
}
#: Number words that count something ("one" is left out: "one of them" is seldom a count).
COUNTS = frozenset(
    [w for w, n in NUMBER_VALUES.items() if n >= 2] + ["thousand", "million", "billion", "dozen"]
)
#: Number words, as written in running text ("twenty-seven" is two of them).
NUMBER_WORDS = _words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion trillion dozen dozens hundreds "
    "thousands millions billions half"
)
#: Words that deny what their sentence says ("not" among them: a stopword elsewhere).
NEGATIONS = _words(
    "not no never none nobody nothing neither nor without cannot can't won't don't doesn't "
    "didn't isn't aren't wasn't weren't hasn't haven't hadn't couldn't wouldn't shouldn't "
    "n't denied denies deny refused refuses declined rejected failed unable"
)
#: Verbs that open a question answered yes or no ("Did he ...?", "Is it ...?").
AUXILIARIES = _words(
    "is are was were am do does did has have had can could will would should shall may "
    "might must isn't aren't wasn't weren't don't doesn't didn't hasn't haven't hadn't "
    "can't couldn't won't wouldn't shouldn't"
)
#: Words a follow-up may open with before its question proper ("And did he ...?").
OPENERS = _words("and but so or then well ok okay now also")
#: Prepositions that open a place, a time or a means ("in Paris", "on Monday", "by car").
PREPOSITIONS = _words(
    "in at on from to near by with for during after before since until into inside outside "
    "across through under over between"
)
#: Words that open a reason or a purpose ("because it rained", "to win the cup").
REASONS = _words("because since so to by after due as for")
#: Past forms that a stemmer does not bring back to their verb ("met" is "meet").
IRREGULAR_PAST = {
    "met": "meet", "won": "win", "said": "say", "told": "tell", "made": "make", "took": "take",
    "gave": "give", "went": "go", "came": "come", "found": "find", "left": "leave",
    "brought": "bring", "bought": "buy", "sold": "sell", "held": "hold", "led": "lead",
    "paid": "pay", "saw": "see", "knew": "know", "began": "begin", "ran": "run", "got": "get",
    "fell": "fall", "felt": "feel", "kept": "keep", "lost": "lose", "sent": "send",
    "spent": "spend", "stood": "stand", "struck": "strike", "taught": "teach", "thought": "think",
    "wrote": "write", "written": "write", "born": "bear", "chose": "choose", "drove": "drive",
    "fought": "fight", "flew": "fly", "grew": "grow", "hit": "hit", "shot": "shoot",
    "sang": "sing", "spoke": "speak", "stole": "steal", "swam": "swim", "threw": "throw",
    "wore": "wear", "broke": "break", "built": "build", "caught": "catch", "died": "die",
}  # fmt: skip
#: Countries, US states and continents, and the words for their people: a span that is one of
#: them names a place (or a nationality), never the person a "who" asks for.
PLACES = _words(
    "afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan "
    "bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia "
    "botswana brazil brunei bulgaria burma burundi cambodia cameroon canada chad chile china "
    "colombia congo croatia cuba cyprus czech denmark djibouti dominica ecuador egypt england "
    "eritrea estonia ethiopia europe fiji finland france gabon gambia georgia germany ghana "
    "greece grenada guatemala guinea guyana haiti honduras hungary iceland india indonesia iran "
    "iraq ireland israel italy jamaica japan jordan kazakhstan kenya korea kosovo kuwait laos "
    "latvia lebanon lesotho liberia libya lithuania luxembourg madagascar malawi malaysia "
    "maldives mali malta mauritania mexico moldova monaco mongolia montenegro morocco "
    "mozambique myanmar namibia nepal netherlands nicaragua niger nigeria norway oman pakistan "
    "palestine panama paraguay peru philippines poland portugal qatar romania russia rwanda "
    "samoa scotland senegal serbia singapore slovakia slovenia somalia spain sudan suriname "
    "sweden switzerland syria taiwan tajikistan tanzania thailand togo tonga tunisia turkey "
    "turkmenistan uganda ukraine uruguay uzbekistan venezuela vietnam wales yemen zambia "
    "zimbabwe africa asia america antarctica oceania "
    "alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii "
    "idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts "
    "michigan minnesota mississippi missouri montana nebraska nevada ohio oklahoma oregon "
    "pennsylvania tennessee texas utah vermont virginia washington wisconsin wyoming "
    "afghan african albanian algerian american arab argentine argentinian armenian asian "
    "australian austrian belgian bolivian brazilian british bulgarian burmese cambodian "
    "canadian chilean chinese colombian croatian cuban czech danish dutch egyptian english "
    "ethiopian european filipino finnish french german ghanaian greek haitian hungarian indian "
    "indonesian iranian iraqi irish israeli italian jamaican japanese jordanian kenyan korean "
    "kurdish lebanese libyan malaysian mexican moroccan nigerian norwegian pakistani "
    "palestinian peruvian polish portuguese romanian russian rwandan saudi scottish serb "
    "serbian somali spanish sudanese swedish swiss syrian thai tunisian turkish ugandan "
    "ukrainian venezuelan vietnamese welsh yemeni zimbabwean"
)
#: Nouns that name a person's role; the name that follows one is a person's ("her counterpart
#: Wang Wentao", "spokesman Anees al-Sharif").
ROLES = _words(
    "president minister secretary spokesman spokeswoman spokesperson counterpart chief leader "
    "director chairman chairwoman governor senator mayor judge officer captain coach manager "
    "player striker star singer actor actress author writer director producer founder "
    "co-founder owner ceo executive lawyer attorney prosecutor father mother son daughter wife "
    "husband brother sister uncle aunt cousin friend boyfriend girlfriend partner colleague "
    "teammate rival king queen prince princess pope bishop reporter correspondent editor "
    "analyst professor doctor dr. mr. mrs. ms. sen. rep. gov. gen. lt. sgt. official suspect "
    "victim witness investigator detective inspector commissioner ambassador envoy"
)
#: Words that say what a number counts or measures, when they follow it ("40 million", "three
#: minutes", "25 percent").
UNITS = _words(
    "percent per cent million millions billion billions thousand thousands hundred hundreds "
    "dozen year years month months week weeks day days hour hours minute minutes second seconds "
    "decade decades century centuries time times people dollars euros pounds yen points goals "
    "runs miles mile kilometers kilometres km meters metres feet foot inches pounds kg tons "
    "degrees"
)
