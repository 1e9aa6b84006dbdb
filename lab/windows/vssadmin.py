"""``vssadmin list writers`` as a lab host prints it, in en-US, ja-JP, de-DE or fr-FR.

The layout follows the real captures in ``tests/captures/vssadmin/`` (banner, blank line, one record per writer:
quoted name, writer id, instance id, ``[N]`` state, last error). The en-US, ja-JP and fr-FR labels are the
captured ones; the de-DE labels are vssadmin's German strings as published, with no capture to compare.

A writer's effective state comes from the model: a failed writer becomes stable ``recover_after_s`` seconds
after its service was (re)started (``services.NAME.restarted_at``); ``recover_after_s: null`` never recovers.
"""

from __future__ import annotations

from typing import Any

LABELS: dict[str, dict[str, str]] = {
    "en-US": {
        "banner": "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool",
        "name": "Writer name: ",
        "id": "   Writer Id: ",
        "instance": "   Writer Instance Id: ",
        "state": "   State: ",
        "error": "   Last error: ",
        "waiting": "Waiting for responses.\r\nThese may be delayed if a shadow copy is being prepared.",
    },
    "ja-JP": {
        "banner": "vssadmin 1.1 - ボリューム シャドウ コピー サービス管理コマンド ライン ツール",
        "name": "ライター名: ",
        "id": "   ライター Id: ",
        "instance": "   ライター インスタンス Id: ",
        "state": "   状態: ",
        "error": "   最後のエラー: ",
        "waiting": "応答を待っています。\r\nシャドウ コピーを準備している場合は、遅れる可能性があります。",
    },
    "de-DE": {
        "banner": "vssadmin 1.1 - Verwaltungsbefehlszeilenprogramm des Volumeschattenkopie-Dienstes",
        "name": "Verfassername: ",
        "id": "   Verfasserkennung: ",
        "instance": "   Verfasserinstanzkennung: ",
        "state": "   Status: ",
        "error": "   Letzter Fehler: ",
        "waiting": "Warten auf Antworten.\r\nDies kann etwas dauern, wenn eine Schattenkopie vorbereitet wird.",
    },
    "fr-FR": {
        "banner": "vssadmin 1.1 - Outil ligne de commande d’administration du service de cliché instantané de volume",
        "name": "Nom du rédacteur : ",
        "id": "   ID du rédacteur : ",
        "instance": "   ID de l’instance du rédacteur : ",
        "state": "   État : ",
        "error": "   Dernière erreur : ",
        "waiting": "En attente de réponses.\r\n"
        "Celles-ci peuvent être retardées si un cliché instantané est en préparation.",
    },
}
COPYRIGHT = "(C) Copyright 2001-2013 Microsoft Corp."

STATES: dict[str, dict[int, str]] = {
    "en-US": {
        0: "Unknown",
        1: "Stable",
        2: "Waiting for freeze",
        3: "Waiting for thaw",
        4: "Waiting for post snapshot",
        5: "Waiting for completion",
    },
    "ja-JP": {
        0: "不明",
        1: "安定",
        2: "固定の待機中",
        3: "固定解除の待機中",
        4: "スナップショット後の待機中",
        5: "完了の待機中",
    },
    "de-DE": {
        0: "Unbekannt",
        1: "Stabil",
        2: "Warten auf Fixierung",
        3: "Warten auf Freigabe",
        4: "Warten auf Nachsnapshot",
        5: "Warten auf Abschluss",
    },
    "fr-FR": {
        0: "Inconnu",
        1: "Stable",
        2: "En attente de gel",
        3: "En attente de dégel",
        4: "En attente de post-cliché",
        5: "En attente d’achèvement",
    },
}
FAILED = {"en-US": "Failed", "ja-JP": "失敗", "de-DE": "Fehlgeschlagen", "fr-FR": "Échec"}

ERRORS: dict[str, dict[int, str]] = {
    "en-US": {
        0: "No error",
        0x800423F3: "Retryable error",
        0x800423F4: "Non-retryable error",
        0x800423F2: "Timed out",
        0x800423F0: "Inconsistent shadow copy",
        0x800423F1: "Out of resources",
    },
    "ja-JP": {
        0: "エラーなし",
        0x800423F3: "再試行可能なエラー",
        0x800423F4: "再試行不可能なエラー",
        0x800423F2: "タイムアウト",
        0x800423F0: "不整合なシャドウ コピー",
        0x800423F1: "リソース不足",
    },
    "de-DE": {
        0: "Kein Fehler",
        0x800423F3: "Wiederholbarer Fehler",
        0x800423F4: "Nicht wiederholbarer Fehler",
        0x800423F2: "Zeitüberschreitung",
        0x800423F0: "Inkonsistente Schattenkopie",
        0x800423F1: "Nicht genügend Ressourcen",
    },
    "fr-FR": {
        0: "Aucune erreur",
        0x800423F3: "Erreur pouvant être réessayée",
        0x800423F4: "Erreur définitive",
        0x800423F2: "Délai dépassé",
        0x800423F0: "Cliché instantané incohérent",
        0x800423F1: "Ressources insuffisantes",
    },
}
UNEXPECTED = {
    "en-US": "Error: A Volume Shadow Copy Service component encountered an unexpected error.\r\n"
    "Check the Application event log for more information.",
    "ja-JP": "エラー: ボリューム シャドウ コピー サービス コンポーネントで予期しないエラーが発生しました。\r\n"
    "詳細については、アプリケーション イベント ログを確認してください。",
    "de-DE": "Fehler: Bei einer Komponente des Volumeschattenkopie-Dienstes ist ein unerwarteter Fehler "
    "aufgetreten.\r\n"
    "Weitere Informationen finden Sie im Anwendungsereignisprotokoll.",
    "fr-FR": "Erreur : un composant du service de cliché instantané des volumes a rencontré une erreur inattendue.\r\n"
    "Consultez le journal des événements Application pour plus d’informations.",
}
DISABLED = {
    "en-US": "Error: The service cannot be started, either because it is disabled or because it has no enabled "
    "devices associated with it.",
    "ja-JP": "エラー: 無効であるか、または有効なデバイスが関連付けられていないため、サービスを開始できません。",
    "de-DE": "Fehler: Der Dienst kann nicht gestartet werden, da er deaktiviert ist oder ihm keine aktivierten "
    "Geräte zugeordnet sind.",
    "fr-FR": "Erreur : le service ne peut pas être démarré parce qu’il est désactivé ou qu’aucun périphérique activé "
    "ne lui est associé.",
}


def _service(machine: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    for key, value in (machine.get("services") or {}).items():
        if name and key.lower() == str(name).lower():
            return value
    return None


def effective_writer(machine: dict[str, Any], writer: dict[str, Any], now: float) -> tuple[int, int]:
    """``(state code, last error)`` of a writer now, recovery after its service's restart included."""
    state = int(writer.get("state", 1))
    error = int(writer.get("last_error", 0) or 0)
    if state in (1, 5):
        return state, error
    recover = writer.get("recover_after_s")
    svc = _service(machine, writer.get("service"))
    restarted = (svc or {}).get("restarted_at")
    if recover is None or restarted is None or (svc or {}).get("status") != "Running":
        return state, error
    if float(restarted) <= float(writer.get("failed_at", 0) or 0):
        return state, error
    if now - float(restarted) >= float(recover):
        return 1, 0
    return state, error


def state_text(language: str, code: int) -> str:
    if code in STATES[language]:
        return STATES[language][code]
    return FAILED[language]


def error_text(language: str, code: int) -> str:
    known = ERRORS[language].get(code)
    if known:
        return known
    return f"{ERRORS[language][0x800423F4]} (0x{code:08x})"


def render_list_writers(machine: dict[str, Any], now: float) -> tuple[str, int]:
    """The text and exit code of ``vssadmin list writers`` on this machine, in its language, CRLF lines."""
    language = machine.get("language", "en-US")
    if language not in LABELS:
        language = "en-US"
    labels = LABELS[language]
    head = [labels["banner"], COPYRIGHT, ""]
    vss = _service(machine, "VSS") or {}
    if vss.get("start_type") == "Disabled":
        return "\r\n".join([*head, DISABLED[language], ""]), 2
    if vss.get("broken"):
        return "\r\n".join([*head, UNEXPECTED[language], ""]), 2
    lines = [*head, labels["waiting"], ""]
    for writer in machine.get("vss_writers") or []:
        code, error = effective_writer(machine, writer, now)
        lines += [
            f"{labels['name']}'{writer['name']}'",
            f"{labels['id']}{writer['id']}",
            f"{labels['instance']}{writer['instance_id']}",
            f"{labels['state']}[{code}] {state_text(language, code)}",
            f"{labels['error']}{error_text(language, error)}",
            "",
        ]
    return "\r\n".join(lines) + "\r\n", 0
