"""Made-up but valid client data: Russian names, mobile phones, plates, VINs, INNs.

Every value passes the project's own normalisers (``clients.normalize``); a seeded
``random.Random`` makes the same demo every time.
"""

import random

from workshops.demo.data import FEMALE_FIRST, MALE_FIRST, PATRONYMICS, SURNAMES

# Mobile operators' codes (МТС, МегаФон, Билайн, Tele2, Мотив) seen in both regions.
MOBILE_CODES = (
    "901", "903", "904", "905", "908", "909", "912", "915", "916", "919", "922", "925", "926",
    "929", "950", "951", "952", "953", "958", "961", "963", "965", "967", "977", "982", "985",
    "991", "996", "999",
)
PLATE_LETTERS = "АВЕКМНОРСТУХ"
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
               **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def feminine_surname(surname: str) -> str:
    """Иванов → Иванова, Ильин → Ильина (every surname in ``SURNAMES`` takes -а)."""
    return surname + "а"


def person_name(rng: random.Random) -> str:
    """«Фамилия Имя Отчество», the way Russian shops keep their client cards."""
    surname = rng.choice(SURNAMES)
    male_patronymic, female_patronymic = rng.choice(PATRONYMICS)
    if rng.random() < 0.72:  # most people booking a car service are men
        return f"{surname} {rng.choice(MALE_FIRST)} {male_patronymic}"
    return f"{feminine_surname(surname)} {rng.choice(FEMALE_FIRST)} {female_patronymic}"


def mobile_phone(rng: random.Random) -> str:
    """A Russian mobile number written the way people type it: ``8 (912) 345-67-89``."""
    code = rng.choice(MOBILE_CODES)
    digits = f"{rng.randrange(1_000_000, 10_000_000):07d}"
    return f"8 ({code}) {digits[:3]}-{digits[3:5]}-{digits[5:]}"


def plate(rng: random.Random, regions: tuple[str, ...]) -> str:
    """A Russian plate of a passenger car: А123ВС77."""
    letters = [rng.choice(PLATE_LETTERS) for _ in range(3)]
    return f"{letters[0]}{rng.randrange(1, 1000):03d}{letters[1]}{letters[2]}{rng.choice(regions)}"


def vin(rng: random.Random, wmi: str, year: int) -> str:
    """A 17-character VIN with the maker's WMI, the model year letter and a correct check digit."""
    year_letters = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 = A … 2030 = Y, then digits
    year_code = year_letters[(year - 2010) % len(year_letters)]
    body = wmi + "".join(rng.choice(VIN_ALPHABET) for _ in range(5))
    tail = year_code + rng.choice(VIN_ALPHABET) + f"{rng.randrange(0, 1_000_000):06d}"
    draft = body + "0" + tail
    check = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(draft, _VIN_WEIGHTS)) % 11
    return body + ("X" if check == 10 else str(check)) + tail


def company_inn(rng: random.Random) -> str:
    """A 10-digit organisation INN with a correct check digit."""
    digits = [rng.randrange(10) for _ in range(9)]
    digits[0], digits[1] = 7, 7  # region code of Moscow
    check = sum(d * w for d, w in zip(digits, (2, 4, 10, 3, 5, 9, 4, 6, 8))) % 11 % 10
    return "".join(map(str, digits)) + str(check)
