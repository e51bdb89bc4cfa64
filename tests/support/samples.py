"""Sample documents and how tests read them: the cn-miit sample, BaSyx's reader for
AAS, and every text of an export.
"""

from __future__ import annotations

import io
from typing import Any

import orjson
from basyx.aas.adapter.json import read_aas_json_file

from adapters.cn_miit import TIME


def sample_doc() -> dict:
    return {
        "rbt_code": "CNH7K2H0A1B32605281000012345A",
        "rbt_status": 10,
        "reg_org": "CN-MIIT-HEIS",
        "reg_time": "2026-05-28 00:30:00",
        "mfr": {
            "name_zh": "北京未来机器人有限公司",
            "name_en": "Beijing Future Robotics Co., Ltd.",
            "country": "CN",
            "uscc": "91110108MA01K7XD2T",
            "contact": "safety@example.cn",
        },
        "model": {
            "model_no": "FR-H1",
            "category": "BIPED_HUMANOID",
            "prod_date": "2024-02-29",
            "serial_no": "SN0001",
        },
        "hw": {
            "dof": 43,
            "mass_kg": 62.5,
            "height_mm": 1720,
            "compute": "Orin AGX 64GB",
            "battery": {"chem": "NMC", "cap_wh": 864.0, "volt_v": 48.0, "pack_no": "BP-77"},
            "sensors": [{"type": "双目相机", "model": "ZED X", "qty": 2}],
            "actuators": [{"joint": "left_knee", "type": "planetary", "torque_nm": 360.0}],
        },
        "sw": {
            "fw_ver": "3.2.1",
            "os": "Ubuntu 22.04 RT",
            "ai_models": [
                {"name": "步态", "ver": "2.0", "provider": "北京未来", "purpose": "locomotion"}
            ],
        },
        "compliance": {
            "certs": [
                {
                    "name": "CR",
                    "issuer": "中国质量认证中心",
                    "cert_no": "CR2024-001",
                    "expiry_date": "2028-02-29",
                }
            ],
            "mandated_updates": [],
            "recalls": [],
        },
        "deploy_recs": [
            {
                "start_time": "2024-03-01 07:59:59",
                "scene": 20,
                "region": "CN-BJ",
                "operator": "京东物流",
                "run_hours": 1200.5,
            }
        ],
        "maint_recs": [
            {
                "time": "2024-12-31 23:59:59",
                "type": 40,
                "component": "left_knee",
                "part_no": "LK-360",
                "provider": "北京未来售后",
                "run_hours": 1100.0,
            }
        ],
        "incident_recs": [
            {
                "incident_no": "INC-1",
                "time": "2025-01-01 00:00:00",
                "level": 4,
                "type": 20,
                "cause": 99,
                "desc": "在仓库摔倒",
                "status": 10,
            }
        ],
        "condition_recs": [
            {
                "time": "2025-06-01 12:00:00",
                "run_hours": 1500.0,
                "battery_soh_pct": 93,
                "charge_cycles": 410,
                "precision_mm": 0.8,
                "stress_events": 3,
                "joint_wear": [{"joint": "left_knee", "wear_pct": 12}],
            }
        ],
        "owner_recs": [
            {
                "start_time": "2024-02-29 10:00:00",
                "end_time": "2025-03-01 00:00:00",
                "owner_name": "北京未来机器人有限公司",
                "owner_type": 1,
                "country": "CN",
            },
            {
                "start_time": "2025-03-01 00:00:00",
                "owner_name": "Rhein Logistik GmbH",
                "owner_type": 1,
                "country": "DE",
            },
        ],
    }


def basyx_load(env: dict) -> None:
    read_aas_json_file(io.StringIO(orjson.dumps(env).decode()), failsafe=False)


def _texts(value: Any) -> list[bytes]:
    """How a withheld value could show in a document, if it is not trivially common."""
    if isinstance(value, bool):
        return []
    if isinstance(value, str):
        forms = [value]
        if value.endswith("Z") and "T" in value:
            forms.append(TIME.encode(value))
        return [orjson.dumps(f)[1:-1] for f in forms if len(f) >= 4]
    if isinstance(value, int | float):
        text = repr(value)
        return [text.encode()] if len(text) >= 4 else []
    return []
