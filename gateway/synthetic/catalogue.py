"""Fictional makers, models, companies and people for the synthetic fleet.

Everything named here is invented for demos: makers, operators, owners, people, sensor
vendors and AI providers. Authority names (SAMR, BAuA, ...) are real bodies but the
incidents, recalls and findings attributed to them are synthetic. Kept apart from
`gateway.synthetic.fleet` so that the simulation reads as logic and this file as data.

Over 500 lines because it is data: the names and parts a fleet is drawn from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from random import Random

from schema.passport import Actuator, AiModel, Sensor, Software
from schema.uscc import generate_uscc


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A product model; its joint list follows from the body plan, so DoF is never made up."""

    designation: str
    code: str  # 6 registry characters, the first being the category letter H/W/T/X
    waist: int  # waist joints 0-3
    arm: int  # joints per arm 4-7
    neck: int  # neck joints 0-3
    hand: int  # joints per hand: 0, 1 (gripper) or 6 (dexterous)
    mass_kg: float
    height_mm: int
    chemistry: str
    capacity_wh: float
    voltage_v: float
    launch: date  # first production date

    @property
    def category(self) -> str:
        return self.code[0]


@dataclass(frozen=True, slots=True)
class Maker:
    name: str
    name_local: str
    registration_id: str
    country: str
    region: str  # ISO 3166-2 of the head office
    code: str  # 4-character registry manufacturer code
    domain: str
    plants: str  # plant characters used in robot codes
    models: tuple[ModelSpec, ...]

    @property
    def short(self) -> str:
        return self.name.split()[0]


@dataclass(frozen=True, slots=True)
class Country:
    """What the generator needs to invent plausible parties in one country."""

    code: str
    utc_offset: int  # standard time; business hours only need to be plausible
    suffix: str  # legal-form suffix of companies
    regions: tuple[str, ...]  # ISO 3166-2
    stems: tuple[str, ...]  # invented company name stems
    given: tuple[str, ...]
    family: tuple[str, ...]
    family_first: bool
    authority: str  # where incidents are reported; CN is per province

    def authority_for(self, region: str) -> str:
        if self.code == "CN":
            return f"SAMR {CN_PROVINCES.get(region, 'headquarters')}"
        return self.authority

    def person(self, given: str, family: str) -> str:
        return f"{family} {given}" if self.family_first else f"{given} {family}"


# -- joints -------------------------------------------------------------------

_LEG = ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll")
_ARM = (
    "shoulder_pitch",
    "shoulder_roll",
    "shoulder_yaw",
    "elbow",
    "wrist_yaw",
    "wrist_pitch",
    "wrist_roll",
)
_HAND = ("thumb_rotation", "thumb_flex", "index_flex", "middle_flex", "ring_flex", "little_flex")
_WAIST = ("waist_yaw", "waist_pitch", "waist_roll")
_NECK = ("head_yaw", "head_pitch", "head_roll")


@cache
def joints_of(spec: ModelSpec) -> tuple[str, ...]:
    """Joint names from the body plan: legs for bipeds, wheels and lift for wheeled bases."""
    sides = ("left", "right")
    joints: list[str] = []
    if spec.category == "H":
        joints += [f"{s}_{j}" for s in sides for j in _LEG]
    elif spec.category == "W":
        joints += ["left_wheel", "right_wheel", "torso_lift"]
    joints += _WAIST[: spec.waist]
    joints += [f"{s}_{j}" for s in sides for j in _ARM[: spec.arm]]
    joints += _NECK[: spec.neck]
    if spec.hand == 1:
        joints += [f"{s}_gripper" for s in sides]
    elif spec.hand:
        joints += [f"{s}_{j}" for s in sides for j in _HAND[: spec.hand]]
    return tuple(joints)


# -- registration ids -----------------------------------------------------------

_ORG_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _org_code(body8: str) -> str:
    """GB 11714 organisation code (8 characters + check), the 9th-17th USCC characters."""
    total = sum(
        _ORG_CHARS.index(c) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)
    )
    check = 11 - total % 11
    return body8 + ("X" if check == 10 else "0" if check == 11 else str(check))


def _uscc(division: str, org8: str) -> str:
    """ "91" = enterprise registered with market regulation; `division` is GB/T 2260."""
    return generate_uscc("91" + division + _org_code(org8))


def organisation_id(country: str, name: str) -> str:
    """The invented register's identifier of organisation `name` in `country`.

    The demo world has one organisation per (country, name), so the identifier
    is a function of both: the same lessor leasing a hundred robots is one
    party. A Chinese organisation gets a USCC (`uscc:`), any other a national
    register number (`reg:CC:`) in the shape its country uses (schema/parties.py).
    Real registries issue these; only the demo derives them.
    """
    digest = hashlib.sha256(f"{country}|{name}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    if country == "CN":
        body = "".join(_USCC_CHARS[(number >> (5 * i)) % 31] for i in range(8))
        return "uscc:" + _uscc(_DIVISIONS[number % len(_DIVISIONS)], body)
    if country == "DE":
        return f"reg:DE:HRB{100000 + number % 900000}"
    if country == "FR":
        return "reg:FR:" + _siren(f"{number % 10**8:08d}").replace(" ", "")
    return f"reg:{country}:{number % 10**9:09d}"


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_DIVISIONS = ("110108", "310115", "440305", "330106", "320506", "420111", "510107", "340104")


def _siren(body8: str) -> str:
    """A Luhn-valid SIREN, as French company ids are."""
    digits = [int(c) for c in body8]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)
    )
    siren = body8 + str((10 - total % 10) % 10)
    return f"{siren[:3]} {siren[3:6]} {siren[6:]}"


def _m(
    designation: str, code: str, plan: str, mass: float, height: int, battery: str, launch: str
) -> ModelSpec:
    """Compact model row: plan "waist/arm/neck/hand", battery "chem/Wh/V", launch "YYYY-MM"."""
    waist, arm, neck, hand = (int(x) for x in plan.split("/"))
    chem, wh, volts = battery.split("/")
    year, month = launch.split("-")
    return ModelSpec(
        designation,
        code,
        waist,
        arm,
        neck,
        hand,
        mass,
        height,
        chem,
        float(wh),
        float(volts),
        date(int(year), int(month), 1),
    )


# -- makers ----------------------------------------------------------------------

# fmt: off
_CN_MAKERS = (
    Maker("Qingluan Dynamics", "深圳青鸾动力科技有限公司", _uscc("440305", "MA5F3K2L"), "CN",
          "CN-GD", "GL7A", "qingluan-dynamics.cn", "12", (
              _m("Qingluan QL-1", "H01A10", "1/7/2/1", 55, 1650, "NMC/864/48", "2024-01"),
              _m("Qingluan QL-1 Pro", "H01B20", "2/7/2/6", 62, 1700, "NMC/1152/48", "2025-03"),
              _m("Qingluan QW-2", "W02A10", "2/7/2/1", 72, 1550, "LFP/1536/48", "2024-06"),
          )),
    Maker("Baize Humanoid Technology", "上海白泽人形机器人科技有限公司",
          _uscc("310115", "MA1H7W3C"), "CN", "CN-SH", "BX3R", "baize-humanoid.cn", "1", (
              _m("Baize BZ-H7", "H07C00", "1/5/2/6", 47, 1580, "NMC/720/52", "2024-02"),
              _m("Baize BZ-T3", "T03C00", "3/7/3/6", 38, 980, "LFP/960/48", "2024-09"),
          )),
    Maker("Tianshu Intelligent Equipment", "北京天枢智能装备有限公司",
          _uscc("110108", "MA01D4T6"), "CN", "CN-BJ", "TN5U", "tianshu-ie.cn", "123", (
              _m("Tianshu TS-Walker", "H1W010", "3/7/2/6", 78, 1780, "NCA/1344/72", "2024-04"),
              _m("Tianshu TS-Mate", "W1M020", "2/7/2/6", 85, 1620, "LFP/2048/48", "2025-01"),
          )),
    Maker("Yunque Robotics", "杭州云雀机器人有限公司", _uscc("330106", "MA2KC8Y1"), "CN",
          "CN-ZJ", "YK8E", "yunque-robotics.cn", "1", (
              _m("Yunque YQ-Lite", "H2L100", "1/4/2/1", 32, 1320, "NMC/518/44.4", "2024-01"),
              _m("Yunque YQ-Edu", "T2E100", "2/7/2/1", 22, 860, "LFP/384/25.6", "2024-05"),
              _m("Yunque YQ-Home", "W2H200", "1/6/2/1", 45, 1400, "LFP/1024/48", "2025-06"),
          )),
    Maker("Zhulong Robot Systems", "苏州烛龙机器人系统有限公司", _uscc("320506", "MA7B2N5E"),
          "CN", "CN-JS", "JL2W", "zhulong-robots.cn", "12", (
              _m("Zhulong ZL-Forge", "H3F300", "2/7/2/1", 70, 1750, "NMC/1228/72", "2024-03"),
              _m("Zhulong ZL-Porter", "W3P300", "1/7/1/1", 95, 1700, "LFP/2560/48", "2024-11"),
          )),
    Maker("Bifang Embodied Intelligence", "武汉毕方具身智能科技有限公司",
          _uscc("420111", "MA4G9R0P"), "CN", "CN-HB", "BF6C", "bifang-ai.cn", "1", (
              _m("Bifang BF-01", "H4A010", "1/6/2/1", 50, 1600, "semi-solid/960/54", "2025-02"),
              _m("Bifang BF-02 Care", "W4C020", "2/7/2/6", 68, 1580, "LFP/1440/48", "2025-08"),
          )),
    Maker("Jinghong Motion Technology", "成都惊鸿运动科技有限公司", _uscc("510107", "MA6C1U8H"),
          "CN", "CN-SC", "JH4P", "jinghong-motion.cn", "12", (
              _m("Jinghong JH-Runner", "H5R050", "1/5/2/1", 42, 1500, "NMC/640/48", "2024-01"),
              _m("Jinghong JH-Atelier", "T5A050", "2/7/2/1", 40, 1000, "LFP/768/48", "2024-08"),
              _m("Jinghong JH-Runner 2", "H5R060", "1/7/2/1", 46, 1520, "NMC/800/48", "2026-01"),
          )),
    Maker("Xuanwu Mechatronics", "合肥玄武机电有限公司", _uscc("340104", "MA8E5L2D"), "CN",
          "CN-AH", "XW9D", "xuanwu-mech.cn", "1", (
              _m("Xuanwu XW-Titan", "H6T070", "3/7/3/6", 88, 1820, "NCA/1536/96", "2024-07"),
              _m("Xuanwu XW-Bench", "T6B070", "2/7/2/6", 55, 1050, "LFP/512/48", "2024-03"),
          )),
)

_DE_MAKERS = (
    Maker("Brandt Humanoid Systems", "Brandt Humanoid Systems GmbH", "HRB 284617", "DE",
          "DE-BY", "BH2M", "brandt-humanoid.de", "1", (
              _m("Brandt B1 Werker", "H0B100", "2/7/2/6", 64, 1720, "NMC/1100/48", "2024-05"),
              _m("Brandt B1 Service", "W0B110", "1/7/2/1", 78, 1600, "LFP/1800/48", "2025-02"),
          )),
    Maker("Kessler & Voss Robotik", "Kessler & Voss Robotik AG", "HRB 731904", "DE", "DE-BW",
          "KV5R", "kessler-voss.de", "12", (
              _m("KV Merkur", "H0K200", "1/6/2/1", 58, 1680, "NMC/960/52", "2024-03"),
              _m("KV Bench-6", "T0K260", "2/7/2/6", 44, 1020, "LFP/640/48", "2024-10"),
          )),
    Maker("Elbtal Robotik", "Elbtal Robotik GmbH", "HRB 41958", "DE", "DE-SN", "EL8T",
          "elbtal-robotik.de", "1", (
              _m("Elbtal E2", "H0E020", "1/5/2/1", 48, 1560, "NMC/780/48", "2024-08"),
              _m("Elbtal Pfleger", "W0E030", "2/7/2/6", 70, 1580, "LFP/1500/48", "2025-05"),
          )),
)

_FR_MAKERS = (
    Maker("Lumiere Automata", "Automates Lumière SAS", f"RCS Lyon {_siren('81245367')}", "FR",
          "FR-ARA", "AL3F", "automates-lumiere.fr", "1", (
              _m("Lumière L1", "H0L010", "1/7/2/1", 57, 1690, "NMC/900/48", "2024-04"),
              _m("Lumière Atelier", "T0L020", "2/7/2/6", 41, 990, "LFP/600/48", "2024-11"),
          )),
    Maker("Garonne Robotique", "Robotique Garonne SA", f"RCS Toulouse {_siren('85310472')}",
          "FR", "FR-OCC", "RG6N", "garonne-robotique.fr", "12", (
              _m("Garonne G-Walk", "H0G100", "1/6/2/1", 52, 1610, "NMC/820/48", "2024-02"),
              _m("Garonne G-Care", "W0G200", "2/7/2/6", 74, 1590, "LFP/1600/48", "2025-04"),
          )),
    Maker("Sequana Humanoids", "Séquana Humanoïdes SAS", f"RCS Paris {_siren('90127638')}",
          "FR", "FR-IDF", "HU4K", "sequana-humanoides.fr", "1", (
              _m("Sequana S1", "H0U010", "2/7/3/6", 60, 1740, "NCA/1050/58", "2024-09"),
              _m("Sequana S1 Mobile", "W0U020", "1/6/2/1", 80, 1650, "LFP/1700/48", "2025-07"),
          )),
)

# fmt: on
MAKERS: dict[str, tuple[Maker, ...]] = {"CN": _CN_MAKERS, "DE": _DE_MAKERS, "FR": _FR_MAKERS}

# -- countries --------------------------------------------------------------------

CN_PROVINCES = {
    "CN-GD": "Guangdong",
    "CN-SH": "Shanghai",
    "CN-BJ": "Beijing",
    "CN-ZJ": "Zhejiang",
    "CN-JS": "Jiangsu",
    "CN-SD": "Shandong",
    "CN-SC": "Sichuan",
    "CN-HB": "Hubei",
    "CN-AH": "Anhui",
    "CN-FJ": "Fujian",
    "CN-TJ": "Tianjin",
    "CN-CQ": "Chongqing",
}


def _c(
    code: str,
    offset: int,
    suffix: str,
    regions: str,
    stems: str,
    given: str,
    family: str,
    authority: str,
    family_first: bool = False,
) -> Country:
    return Country(
        code,
        offset,
        suffix,
        tuple(regions.split()),
        tuple(stems.split(",")),
        tuple(given.split(",")),
        tuple(family.split(",")),
        family_first,
        authority,
    )


# fmt: off
COUNTRIES: dict[str, Country] = {c.code: c for c in (
    _c("CN", 8, "Co., Ltd.", " ".join(CN_PROVINCES),
       "Huarui,Xinlian,Dongsheng,Jiahe,Runfeng,Hongtai,Yuanxing,Lanjing,Minghai,Kaiyue,Qiansheng",
       "Jiahui,Mingyu,Xinyi,Haoran,Yutong,Zimo,Ruoxi,Junjie,Shuyan,Tianyu",
       "Wang,Li,Zhang,Liu,Chen,Yang,Zhao,Huang,Zhou,Wu", "SAMR", family_first=True),
    _c("DE", 1, "GmbH", "DE-BY DE-BW DE-NW DE-HE DE-NI DE-BE DE-SN DE-HH",
       "Isarwerk,Neckartal,Rheinberg,Spreeland,Weserhof,Mainfeld,Alstertor,Lechbruck",
       "Katharina,Lukas,Sophie,Jonas,Marie,Felix,Hannah,Tobias",
       "Vogt,Becker,Hoffmann,Schreiber,Krüger,Lehmann,Brandl,Seidel", "BAuA"),
    _c("FR", 1, "SAS", "FR-IDF FR-ARA FR-OCC FR-NAQ FR-PAC FR-HDF FR-GES FR-BRE",
       "Monclar,Rivemont,Beauvoir,Clairval,Hautrive,Sablons,Valmorel",
       "Camille,Louis,Chloé,Hugo,Léa,Antoine,Manon,Julien",
       "Laurent,Moreau,Girard,Fontaine,Rousseau,Mercier,Dubois,Lefèvre", "DGCCRF"),
    _c("US", -6, "Inc.", "US-CA US-TX US-MA US-MI US-WA US-GA",
       "Bayside,Lakeshore,Redwood Row,Granite Peak,Prairie Line,Harborview",
       "Emily,Jacob,Olivia,Ethan,Madison,Noah", "Carter,Nguyen,Brooks,Patel,Reyes,Hughes",
       "OSHA"),
    _c("JP", 9, "K.K.", "JP-13 JP-14 JP-23 JP-27 JP-40", "Asahigawa,Kitamori,Aozora,Tsukishiro",
       "Haruto,Yui,Sota,Hina,Ren,Aoi", "Sato,Suzuki,Takahashi,Tanaka,Ito,Kobayashi", "METI",
       family_first=True),
    _c("SG", 8, "Pte. Ltd.", "SG-01 SG-03 SG-04", "Tanjong Crest,Orchid Line,Straits Harbour",
       "Wei Jie,Hui Min,Arjun,Siti", "Tan,Lim,Ng,Rahman,Menon", "MOM Singapore",
       family_first=True),
    _c("KR", 9, "Co., Ltd.", "KR-11 KR-41 KR-26 KR-28", "Hanbit,Daeseong,Saebyeok,Mirae Hanul",
       "Minjun,Seoyeon,Jiho,Hayoon", "Kim,Lee,Park,Choi,Jung", "KATS", family_first=True),
    _c("NL", 1, "B.V.", "NL-NH NL-ZH NL-NB NL-UT", "Polderveld,Dijkhaven,Zuiderlicht,Maasbrug",
       "Daan,Sanne,Bram,Fleur", "de Vries,Jansen,Visser,Smit", "NLA"),
    _c("AE", 4, "LLC", "AE-DU AE-AZ AE-SH", "Al Noor,Palm Crest,Desert Rose,Creek Side",
       "Omar,Fatima,Rashid,Mariam", "Al Mansouri,Al Hashimi,Haddad", "MoIAT"),
    _c("AT", 1, "GmbH", "AT-9 AT-4 AT-6", "Donautal,Alpenblick,Murtal", "Lena,Paul,Anna,Elias",
       "Gruber,Huber,Wagner,Pichler", "Arbeitsinspektion"),
    _c("CH", 1, "AG", "CH-ZH CH-BE CH-VD CH-BS", "Limmat,Aaretal,Lemanis",
       "Noah,Mia,Luca,Lea", "Müller,Meier,Schmid,Keller", "SECO"),
    _c("BE", 1, "SA", "BE-BRU BE-VAN BE-WLG", "Scheldt,Meuse Valley,Brabant",
       "Lucas,Emma,Arthur,Louise", "Peeters,Janssens,Maes,Dubois", "FPS Economy"),
    _c("ES", 1, "S.L.", "ES-MD ES-CT ES-AN ES-VC", "Sierra Alta,Costa Clara,Ribera",
       "Lucía,Hugo,Martina,Mateo", "García,Martínez,López,Sánchez", "INSST"),
    _c("IT", 1, "S.r.l.", "IT-25 IT-21 IT-62 IT-45", "Valdora,Monteverde,Lagoscuro",
       "Giulia,Leonardo,Sofia,Francesco", "Rossi,Russo,Ferrari,Esposito", "INAIL"),
)}
# fmt: on

# Where robots registered in a country go when sold abroad.
EXPORTS: dict[str, tuple[str, ...]] = {
    "CN": ("DE", "FR", "US", "JP", "SG", "KR", "NL", "AE"),
    "DE": ("FR", "NL", "AT", "CH", "US", "CN"),
    "FR": ("DE", "BE", "ES", "IT", "CH", "US", "CN"),
}

# -- hardware ----------------------------------------------------------------------

# joint keyword -> (actuator kind, rated torque at 60 kg in Nm, relative wear rate)
_JOINT_TYPES = (
    ("hip", "planetary quasi-direct drive", 160.0, 1.6),
    ("knee", "planetary quasi-direct drive", 220.0, 1.8),
    ("ankle", "planetary with linkage", 90.0, 1.4),
    ("wheel", "hub motor", 45.0, 1.2),
    ("torso_lift", "ball-screw linear", 30.0, 0.7),
    ("waist", "harmonic drive", 120.0, 0.9),
    ("shoulder", "harmonic drive", 60.0, 0.8),
    ("elbow", "harmonic drive", 40.0, 0.9),
    ("wrist", "harmonic drive", 12.0, 0.7),
    ("head", "servo", 4.0, 0.3),
    ("gripper", "parallel gripper servo", 8.0, 1.2),
    ("", "linear micro-servo", 1.5, 0.8),  # fingers
)
_COMPUTE = (
    "8-core ARM SoC + 100 TOPS NPU module",
    "12-core ARM SoC + 275 TOPS GPU module",
    "x86 8-core CPU + 200 TOPS GPU module",
    "dual 8-core ARM SoC + 2x100 TOPS NPU",
)


def _joint_type(joint: str) -> tuple[str, str, float, float]:
    return next(t for t in _JOINT_TYPES if t[0] in joint)


def wear_factor(joint: str) -> float:
    """Legs carry the body and the impacts, so hips, knees and ankles wear fastest."""
    return _joint_type(joint)[3]


def joint_family(joint: str) -> str:
    """Part family of a joint's actuator (or a hand), e.g. KNEE or HIP-PITCH."""
    return joint.removeprefix("left_").removeprefix("right_").replace("_", "-").upper()


def actuators_of(spec: ModelSpec) -> list[Actuator]:
    scale = (spec.mass_kg / 60) ** 0.5
    return [
        Actuator(j, _joint_type(j)[1], round(_joint_type(j)[2] * scale, 1)) for j in joints_of(spec)
    ]


def sensors_of(spec: ModelSpec) -> list[Sensor]:
    """Sensor fit by body plan; vendors are invented."""
    out = [
        Sensor("stereo depth camera", "Lumivox SD-60", 2 if spec.category == "H" else 1),
        Sensor("RGB camera", "Tianyan RC-12", 2 if spec.neck >= 2 else 1),
        Sensor("IMU", "Kestrel IM-9", 2 if spec.category == "H" else 1),
        Sensor("microphone array", "Lumivox MA-6", 1),
    ]
    if spec.category in "HW":
        out.append(Sensor("3D lidar", "Tianyan TL-32", 1))
    if spec.arm >= 6:
        out.append(Sensor("6-axis force-torque sensor", "Kestrel FT-200", 2))
    if spec.hand == 6:
        out.append(Sensor("tactile fingertip array", "Lumivox TX-5", 10))
    if spec.category == "H":
        out.append(Sensor("foot force sensor", "Kestrel FS-4", 2))
    if spec.category == "W":
        out.append(Sensor("ultrasonic rangefinder", "Tianyan US-40", 6))
    return out


def compute_of(spec: ModelSpec) -> str:
    return _COMPUTE[sum(map(ord, spec.code)) % len(_COMPUTE)]


# -- software releases ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Release:
    at: datetime
    software: Software

    @property
    def version(self) -> str:
        return self.software.firmware_version


_VENDORS = {  # (vision-language provider, model, speech provider, model)
    "CN": ("Hanlin AI", "Hanlin-VL", "Shengwen Speech", "Shengwen-ASR"),
    "DE": ("Nordlicht KI GmbH", "Nordlicht-Vision", "Vox Alpina AG", "Alpina-Speech"),
    "FR": ("Cirrus Labs SAS", "Cirrus-VLA", "Vox Alpina AG", "Alpina-Speech"),
}


def _os(maker: Maker, at: date) -> str:
    """Chinese makers split between openEuler and Ubuntu; all move up a release mid-2025."""
    new = at >= date(2025, 7, 1)
    if maker.country == "CN" and ord(maker.code[1]) % 2:
        return f"openEuler {'24.03' if new else '22.03'} LTS + ROS 2 Humble"
    return "Ubuntu 24.04 LTS + ROS 2 Jazzy" if new else "Ubuntu 22.04 LTS + ROS 2 Humble"


def _ai_models(maker: Maker, spec: ModelSpec, at: date, k: int) -> list[AiModel]:
    vlm_by, vlm, speech_by, speech = _VENDORS[maker.country]
    own = f"{at:%y}.{k % 4 + 1}"  # in-house models ship with every firmware release
    out = []
    if spec.category == "H":
        out.append(AiModel(f"{maker.short}-Loco", own, maker.name, "whole-body locomotion"))
    elif spec.category == "W":
        out.append(AiModel(f"{maker.short}-Nav", own, maker.name, "navigation"))
    out.append(AiModel(f"{maker.short}-Grasp", own, maker.name, "grasp planning"))
    out.append(AiModel(vlm, f"{1 + k // 3}.{k % 3}", vlm_by, "scene understanding"))
    if spec.category == "W":
        out.append(AiModel(speech, f"3.{k // 2}", speech_by, "speech interaction"))
    return out


@cache
def releases_of(maker: Maker, spec: ModelSpec) -> tuple[Release, ...]:
    """Firmware releases every 2.5-5 months from shortly before launch; fixed per model."""
    rng = Random(f"releases:{maker.code}:{spec.code}")
    major, minor, patch = spec.launch.year - 2023, 0, 0
    at = spec.launch - timedelta(days=45)
    out: list[Release] = []
    while at < date(2027, 6, 1):
        when = datetime(at.year, at.month, at.day, 2, tzinfo=UTC)
        software = Software(
            f"{major}.{minor}.{patch}", _os(maker, at), _ai_models(maker, spec, at, len(out))
        )
        out.append(Release(when, software))
        at += timedelta(days=rng.randint(75, 150))
        if rng.random() < 0.3:
            patch += 1
        else:
            minor, patch = minor + 1, 0
    return tuple(out)
