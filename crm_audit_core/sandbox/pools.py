"""Name, company, address and phone pools for synthetic tenants.

Everything here is data plus small vectorised helpers: the generator draws indices
with numpy and turns them into strings through these pools, so a million contacts
cost a handful of list comprehensions, not a million calls into ``phonenumbers``.
Phone layouts were checked against ``phonenumbers`` (tests/sandbox re-checks them).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- people

ID_FIRST = (
    "Budi Siti Agus Dewi Rina Andi Putri Ahmad Wahyu Sri Joko Indah Eko Fitri Hendra Yanti"
    " Rizky Nur Dian Bambang Ratna Fajar Ayu Teguh Lestari Adi Mega Rudi Maya Yusuf Anisa"
    " Dimas Kartika Bayu Wulan Gilang Intan Arief Novi Hadi"
).split()
ID_LAST = (
    "Santoso Wijaya Hidayat Saputra Pratama Kusuma Setiawan Nugroho Siregar Hutapea"
    " Simanjuntak Halim Gunawan Lubis Nasution Harahap Susanto Purnomo Wibowo Rahman Hakim"
    " Sihombing Tanjung Permana Utomo Firmansyah Syahputra Kurniawan Hartono Sutanto Rahayu"
    " Suryadi Effendi Tambunan Manurung"
).split()
# Hangul given names and family names with the romanisation used for e-mail addresses.
KR_FIRST = (
    ("민준", "minjun"), ("서연", "seoyeon"), ("지훈", "jihoon"), ("서준", "seojun"), ("하은", "haeun"),
    ("도윤", "doyun"), ("지우", "jiwoo"), ("예준", "yejun"), ("수아", "sua"), ("지민", "jimin"),
    ("현우", "hyunwoo"), ("민서", "minseo"), ("준호", "junho"), ("유진", "yujin"), ("성민", "sungmin"),
    ("은지", "eunji"), ("태현", "taehyun"), ("소연", "soyeon"), ("동현", "donghyun"), ("혜진", "hyejin"),
    ("영호", "youngho"), ("미경", "mikyung"), ("재원", "jaewon"), ("수빈", "subin"), ("상우", "sangwoo"),
    ("다은", "daeun"), ("건우", "gunwoo"), ("나연", "nayeon"), ("우진", "woojin"), ("채원", "chaewon"),
)
KR_LAST = (
    ("김", "kim"), ("이", "lee"), ("박", "park"), ("최", "choi"), ("정", "jung"), ("강", "kang"),
    ("조", "cho"), ("윤", "yoon"), ("장", "jang"), ("임", "lim"), ("한", "han"), ("오", "oh"),
    ("서", "seo"), ("신", "shin"), ("권", "kwon"), ("황", "hwang"), ("안", "ahn"), ("송", "song"),
    ("류", "ryu"), ("홍", "hong"),
)
EN_FIRST = (
    "James John Mary Sarah Michael Emma Oliver Olivia William Jessica David Emily Daniel"
    " Sophie Thomas Charlotte Matthew Grace Jack Chloe Liam Ava Noah Mia Ethan Amelia Lucas"
    " Hannah Samuel Isla José Zoë Chloé André Renée"
).split()
EN_LAST = (
    "Smith Johnson Williams Brown Jones Taylor Wilson Davies Evans Thomas Walker White"
    " Harris Martin Thompson Clarke Wright Robinson Hall Lewis Nguyen García O'Brien Patel"
    " Anderson Mitchell Campbell Murphy Kelly Cooper"
).split()
DE_FIRST = "Jürgen Jörg Lukas Anna Zoë René Katrin Stefan Björn Leonie Felix Jana Maximilian Sören".split()
DE_LAST = "Müller Schäfer Weiß Böhm Krüger Schröder Köhler Groß Jäger Fuchs Becker Wagner Hoffmann Schulz".split()

# Several clean people share these names on purpose: the duplicate matcher must not
# merge them (they differ in e-mail, phone and company).
COMMON_NAMES = (
    ("ID", "Budi", "Santoso"),
    ("ID", "Siti", "Rahayu"),
    ("KR", "민준", "김"),
    ("KR", "서연", "이"),
    ("EN", "John", "Smith"),
    ("EN", "Sarah", "Johnson"),
)

# --------------------------------------------------------------------------- companies

ID_WORDS = (
    "Sinar Maju Karya Mitra Bumi Cahaya Sentosa Abadi Jaya Makmur Sejahtera Mandiri Nusantara"
    " Prima Indah Utama Sukses Berkah Bintang Surya Mega Gemilang Persada Lestari Perkasa"
    " Tunggal Agung Wahana Citra Graha Anugerah Harapan Inti Daya Buana Artha Pratama Samudra"
    " Cipta Rejeki"
).split()
ID_INDUSTRY = "Teknologi Logistik Farma Niaga Konstruksi Digital Energi Pangan Tekstil Properti Media Solusi".split()
KR_WORDS = (
    ("한빛", "hanbit"), ("대한", "daehan"), ("미래", "mirae"), ("세종", "sejong"), ("동방", "dongbang"),
    ("태양", "taeyang"), ("우리", "uri"), ("푸른", "pureun"), ("새롬", "saerom"), ("하나", "hana"),
    ("나라", "nara"), ("누리", "nuri"), ("다온", "daon"), ("가온", "gaon"), ("아름", "areum"),
    ("바다", "bada"), ("한결", "hangyeol"), ("으뜸", "eutteum"), ("별빛", "byeolbit"), ("온누리", "onnuri"),
    ("해솔", "haesol"), ("든든", "deundeun"), ("빛나", "bitna"), ("초록", "chorok"), ("은하", "eunha"),
    ("두리", "duri"), ("한울", "hanul"), ("산들", "sandeul"), ("마루", "maru"), ("새봄", "saebom"),
)
KR_INDUSTRY = (
    ("테크", "Tech"), ("물산", "Trading"), ("전자", "Electronics"), ("바이오", "Bio"), ("건설", "Construction"),
    ("식품", "Foods"), ("로지스", "Logis"), ("소프트", "Soft"), ("에너지", "Energy"), ("제약", "Pharm"),
    ("통상", "Commerce"), ("미디어", "Media"),
)
EN_WORDS = (
    "North Blue Summit Harbor Pioneer Ever Silver Red Atlas Bright Crescent Granite Maple Oak"
    " Horizon Key Liberty Meridian Beacon Cedar Falcon Golden Iron Juniper Lake Orchard"
    " Pinnacle Quarry River Stone"
).split()
EN_SUFFIX = (
    "bridge field brook ridge vale gate point wood crest haven shore land works star line"
    " port mark side view way rock hill well ford bay dale glen moor wind light"
).split()
EN_DESCRIPTOR = ("", "Global", "Pacific", "United", "International", "Digital", "Advanced",
                 "Coastal", "Metro", "National", "Premier")
EN_INDUSTRY = (
    "Analytics Logistics Foods Systems Partners Labs Capital Health Energy Media Software"
    " Manufacturing Consulting Retail Solutions"
).split()

INDUSTRIES = (
    "Technology", "Logistics", "Manufacturing", "Retail", "Healthcare", "Financial Services",
    "Construction", "Food & Beverage", "Energy", "Media", "Education", "Professional Services",
)

# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class Country:
    code: str
    weight: float
    culture: str  # ID, KR, EN, DE
    currency: str
    tld: str
    free_mail: tuple[str, ...]
    # (city, state, postal code, landline area code)
    cities: tuple[tuple[str, str, str, str], ...]
    streets: tuple[str, ...]
    legal_forms: tuple[tuple[str, float], ...]  # "{}" stands for the bare name


COUNTRIES: tuple[Country, ...] = (
    Country(
        "ID", 0.40, "ID", "IDR", "co.id", ("gmail.com", "yahoo.co.id", "outlook.com"),
        (("Jakarta Selatan", "DKI Jakarta", "12190", "21"), ("Jakarta Pusat", "DKI Jakarta", "10110", "21"),
         ("Surabaya", "Jawa Timur", "60271", "31"), ("Bandung", "Jawa Barat", "40115", "22"),
         ("Medan", "Sumatera Utara", "20112", "61"), ("Semarang", "Jawa Tengah", "50132", "24"),
         ("Denpasar", "Bali", "80113", "361"), ("Makassar", "Sulawesi Selatan", "90111", "411")),
        ("Jl. Jend. Sudirman", "Jl. M.H. Thamrin", "Jl. Gatot Subroto", "Jl. Diponegoro",
         "Jl. Pemuda", "Jl. Asia Afrika", "Jl. Rasuna Said", "Jl. Ahmad Yani"),
        (("PT {}", 0.55), ("PT {} Tbk", 0.12), ("CV {}", 0.33)),
    ),
    Country(
        "KR", 0.25, "KR", "KRW", "co.kr", ("naver.com", "daum.net", "gmail.com"),
        (("서울", "서울특별시", "06236", "2"), ("부산", "부산광역시", "48058", "51"),
         ("인천", "인천광역시", "21984", "32"), ("성남", "경기도", "13487", "31"),
         ("대구", "대구광역시", "41940", "53"), ("대전", "대전광역시", "35229", "42")),
        ("테헤란로", "세종대로", "강남대로", "판교역로", "해운대로", "중앙대로"),
        (("주식회사 {}", 0.45), ("(주){}", 0.35), ("{} 주식회사", 0.20)),
    ),
    Country(
        "US", 0.15, "EN", "USD", "com", ("gmail.com", "outlook.com", "yahoo.com"),
        (("New York", "NY", "10001", "212"), ("San Francisco", "CA", "94105", "415"),
         ("Austin", "TX", "78701", "512"), ("Chicago", "IL", "60601", "312"),
         ("Seattle", "WA", "98101", "206"), ("Boston", "MA", "02108", "617")),
        ("Main St", "Market St", "Broadway", "Oak Ave", "Pine St", "Congress Ave"),
        (("{} Inc", 0.4), ("{}, Inc.", 0.2), ("{} LLC", 0.25), ("{} Corp.", 0.15)),
    ),
    Country(
        "GB", 0.07, "EN", "GBP", "co.uk", ("gmail.com", "outlook.com", "btinternet.com"),
        (("London", "England", "EC1A 1BB", "20"), ("Manchester", "England", "M1 1AE", "161"),
         ("Edinburgh", "Scotland", "EH1 1YZ", "131"), ("Bristol", "England", "BS1 4DJ", "117")),
        ("High Street", "King Street", "Station Road", "Church Lane", "Victoria Road"),
        (("{} Ltd", 0.6), ("{} Limited", 0.25), ("{} PLC", 0.15)),
    ),
    Country(
        "AU", 0.06, "EN", "AUD", "com.au", ("gmail.com", "bigpond.com", "outlook.com"),
        (("Sydney", "NSW", "2000", "2"), ("Melbourne", "VIC", "3000", "3"),
         ("Brisbane", "QLD", "4000", "7"), ("Perth", "WA", "6000", "8")),
        ("George St", "Collins St", "Queen St", "Hay St", "Pitt St"),
        (("{} Pty Ltd", 0.8), ("{} Pty. Ltd.", 0.2)),
    ),
    Country(
        "SG", 0.04, "EN", "SGD", "com.sg", ("gmail.com", "yahoo.com.sg", "singnet.com.sg"),
        (("Singapore", "Singapore", "018989", "6"), ("Singapore", "Singapore", "238859", "6")),
        ("Raffles Place", "Orchard Road", "Shenton Way", "Anson Road"),
        (("{} Pte. Ltd.", 0.7), ("{} Co., Ltd.", 0.3)),
    ),
    Country(
        "DE", 0.03, "DE", "EUR", "de", ("gmx.de", "web.de", "gmail.com"),
        (("Berlin", "Berlin", "10115", "30"), ("München", "Bayern", "80331", "89"),
         ("Hamburg", "Hamburg", "20095", "40"), ("Köln", "Nordrhein-Westfalen", "50667", "221")),
        ("Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Königsallee", "Friedrichstraße"),
        (("{} GmbH", 0.75), ("{} AG", 0.25)),
    ),
)
COUNTRY_CODES = tuple(c.code for c in COUNTRIES)
COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)
BY_CODE = {c.code: c for c in COUNTRIES}

TITLES = {
    "ID": ("Direktur Utama", "Manajer Pemasaran", "Kepala Pengadaan", "Staf Keuangan", "Manajer Operasional", "Direktur"),
    "KR": ("대표이사", "영업팀장", "구매팀 과장", "마케팅 부장", "재무팀 대리", "이사"),
    "EN": ("CEO", "Head of Sales", "Procurement Manager", "Marketing Director", "Finance Manager", "Operations Lead"),
    "DE": ("Geschäftsführer", "Vertriebsleiter", "Einkaufsleiterin", "Marketingleiter", "Buchhaltung"),
}

# --------------------------------------------------------------------------- text helpers


def ascii_fold(text: str) -> str:
    """'Zoë Müller' -> 'Zoe Muller' (for e-mail local parts and domains)."""
    text = text.replace("ß", "ss").replace("'", "")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def slug(text: str) -> str:
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isalnum())


def permute(index: np.ndarray, modulus: int, salt: int) -> np.ndarray:
    """A bijection on [0, modulus): distinct indices give distinct numbers."""
    multiplier = 48271 if modulus % 48271 else 69621
    return (index.astype(np.int64) * multiplier + salt) % modulus


# --------------------------------------------------------------------------- phones
# Each layout takes an array of unique integers and a style: "intl" ("+62 812-3456-7890")
# or "national" ("0812-3456-7890"). The caller passes distinct integers below
# MOBILE_SPACE[country], which keeps the numbers distinct.

ID_MOBILE_PREFIXES = ("811", "812", "813", "821", "822", "852", "853", "815", "816", "857", "858", "817", "818", "819", "877", "878", "896", "897", "898")
DE_MOBILE_PREFIXES = ("151", "160", "170", "171", "176", "157", "162")
GB_MOBILE_HEADS = (74, 75, 78, 79)  # 076xx, parts of 077xx and 07911 are not all allocated
AU_MOBILE_HEADS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                   27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 44, 47, 48, 49, 50, 51, 52, 54, 55, 56,
                   57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 72, 73, 74, 75, 76, 77, 78, 80, 81, 82,
                   84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 97, 98, 99)  # 04xx blocks phonenumbers accepts
US_AREAS = ("212", "415", "512", "312", "206", "617", "646", "650", "303", "404")


MOBILE_SPACE = {"ID": 10**8, "KR": 79_700_000, "US": 8 * 10**6, "GB": 10**8, "AU": 10**6, "SG": 10**6, "DE": 10**8}


def format_mobiles(country: str, numbers: np.ndarray, choice: np.ndarray, national: np.ndarray) -> list[str]:
    """Mobile numbers for one country. ``choice`` picks prefixes, ``national`` the style."""
    n = numbers.astype(np.int64)
    out: list[str] = []
    if country == "ID":
        for v, c, nat in zip(n.tolist(), choice.tolist(), national.tolist()):
            p = ID_MOBILE_PREFIXES[c % len(ID_MOBILE_PREFIXES)]
            a, b = divmod(v % 100_000_000, 10_000)
            out.append(f"0{p}-{a:04d}-{b:04d}" if nat else f"+62 {p}-{a:04d}-{b:04d}")
    elif country == "KR":
        for v, nat in zip(n.tolist(), national.tolist()):
            v = v % 79_700_000 + 20_000_000
            v += 300_000 * (v >= 59_700_000)  # 010-5970..5999 are not allocated
            a, b = divmod(v, 10_000)
            out.append(f"010-{a:04d}-{b:04d}" if nat else f"+82 10-{a:04d}-{b:04d}")
    elif country == "US":
        for v, c, nat in zip(n.tolist(), choice.tolist(), national.tolist()):
            area = US_AREAS[c % len(US_AREAS)]
            v = v % 8_000_000
            exch, line = divmod(v, 10_000)
            exch += 200
            out.append(f"({area}) {exch}-{line:04d}" if nat else f"+1 {area}-{exch}-{line:04d}")
    elif country == "GB":
        for v, c, nat in zip(n.tolist(), choice.tolist(), national.tolist()):
            v = v % 100_000_000
            head = GB_MOBILE_HEADS[c % len(GB_MOBILE_HEADS)]
            a, b = divmod(v, 1_000_000)
            if head == 79 and a == 11:  # 07911 is only partly allocated; (a, b) alone keeps numbers distinct
                head = 78
            out.append(f"0{head}{a:02d} {b:06d}" if nat else f"+44 {head}{a:02d} {b:06d}")
    elif country == "AU":
        for v, c, nat in zip(n.tolist(), choice.tolist(), national.tolist()):
            s = f"{AU_MOBILE_HEADS[c % len(AU_MOBILE_HEADS)]:02d}{v % 1_000_000:06d}"
            # 04xx xxx xxx
            out.append(f"04{s[:2]} {s[2:5]} {s[5:]}" if nat else f"+61 4{s[:2]} {s[2:5]} {s[5:]}")
    elif country == "SG":
        for v, c, nat in zip(n.tolist(), choice.tolist(), national.tolist()):
            s = f"{81 + c % 18}{v % 1_000_000:06d}"
            out.append(f"{s[:4]} {s[4:]}" if nat else f"+65 {s[:4]} {s[4:]}")
    elif country == "DE":
        for v, c, nat in zip(n.tolist(), choice.tolist(), national.tolist()):
            p = DE_MOBILE_PREFIXES[c % len(DE_MOBILE_PREFIXES)]
            v = v % 100_000_000
            out.append(f"0{p} {v:08d}" if nat else f"+49 {p} {v:08d}")
    else:  # pragma: no cover - every country above has a layout
        raise ValueError(country)
    return out


def format_landline(country: str, area: str, number: int) -> str:
    """A company switchboard number (international format)."""
    if country == "ID":
        digits = 8 if len(area) == 2 else 7
        v = number % 10 ** (digits - 1) + 5 * 10 ** (digits - 1)
        return f"+62 {area} {v}"
    if country == "KR":
        v = number % 8_000_000 + 2_000_000 if area == "2" else number % 8_000_000 + 2_000_000
        a, b = divmod(v, 10_000)
        return f"+82 {area}-{a}-{b:04d}"
    if country == "US":
        v = number % 8_000_000
        exch, line = divmod(v, 10_000)
        return f"+1 {area}-{exch + 200}-{line:04d}"
    if country == "GB":
        if len(area) == 2:
            v = number % 10_000_000
            return f"+44 {area} 7{v // 10_000 % 1000:03d} {v % 10_000:04d}"
        v = number % 1_000_000
        return f"+44 {area} {300 + v // 10_000 % 600:03d} {v % 10_000:04d}"
    if country == "AU":
        v = number % 10_000_000
        return f"+61 {area} 9{v // 10_000 % 1000:03d} {v % 10_000:04d}"
    if country == "SG":
        v = number % 10_000_000
        return f"+65 6{v // 10_000 % 1000:03d} {v % 10_000:04d}"
    if country == "DE":
        v = number % 10_000_000 + 20_000_000 if len(area) == 2 else number % 1_000_000 + 2_000_000
        return f"+49 {area} {v}"
    raise ValueError(country)  # pragma: no cover


# --------------------------------------------------------------------------- company names


def company_base_name(culture: str, index: int) -> tuple[str, str]:
    """The bare (legal-form free) company name number ``index`` of a culture, and its slug.

    Indices map to distinct names (mixed radix over word pools), so clean companies
    never share a normalised name.
    """
    if culture == "ID":
        w, ind = ID_WORDS, ID_INDUSTRY
        n_w = len(w)
        i, k = divmod(index, len(ind))
        a, i = i % n_w, i // n_w
        b, i = i % (n_w - 1), i // (n_w - 1)
        b = b + (b >= a)
        words = [w[a], w[b]]
        if i:  # a third word once two-word names run out
            c = (i - 1) % n_w
            words.append(w[c])
            if i - 1 >= n_w:
                words.append(str(i // n_w))
        words.append(ind[k])
        name = " ".join(words)
        return name, slug(name)
    if culture == "KR":
        w, ind = KR_WORDS, KR_INDUSTRY
        n_w = len(w)
        i, k = divmod(index, len(ind))
        a, i = i % n_w, i // n_w
        b, i = i % (n_w - 1), i // (n_w - 1)
        b = b + (b >= a)
        parts = [w[a], w[b]]
        if i:
            parts.append(w[(i - 1) % n_w])
            if i - 1 >= n_w:
                parts.append((str(i // n_w), str(i // n_w)))
        parts.append(ind[k])
        name = "".join(p[0] for p in parts)
        return name, "".join(p[1] for p in parts).lower()
    # EN and DE share one pool so that "Silverbrook Logistics Inc" and
    # "Silverbrook Logistics GmbH" never both exist as clean companies.
    i, k = divmod(index, len(EN_INDUSTRY))
    a, i = i % len(EN_WORDS), i // len(EN_WORDS)
    b, i = i % len(EN_SUFFIX), i // len(EN_SUFFIX)
    d, i = i % len(EN_DESCRIPTOR), i // len(EN_DESCRIPTOR)
    words = [EN_WORDS[a] + EN_SUFFIX[b]]
    if EN_DESCRIPTOR[d]:
        words.append(EN_DESCRIPTOR[d])
    words.append(EN_INDUSTRY[k])
    if i:
        words.append(str(i + 1))
    name = " ".join(words)
    return name, slug(name)


def company_capacity(culture: str) -> int:
    """How many names company_base_name yields before it starts numbering them."""
    if culture == "ID":
        return len(ID_WORDS) * (len(ID_WORDS) - 1) * len(ID_INDUSTRY) * (len(ID_WORDS) + 1)
    if culture == "KR":
        return len(KR_WORDS) * (len(KR_WORDS) - 1) * len(KR_INDUSTRY) * (len(KR_WORDS) + 1)
    return len(EN_WORDS) * len(EN_SUFFIX) * len(EN_DESCRIPTOR) * len(EN_INDUSTRY)
