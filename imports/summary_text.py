"""The import summary as Russian text (command output, admin messages)."""

from typing import Any


def summary_lines(summary: dict[str, Any], *, problem_rows: int = 20) -> list[str]:
    counts = summary.get("counts", {})
    head = "Проверка без записи (--dry-run): в базе ничего не изменено." if summary.get("dry_run") else "Импорт завершён."
    lines = [
        head,
        f"Строк в файле: {summary.get('rows_total', 0)}, из них с данными: {summary.get('data_rows', 0)}.",
        f"Загружено строк: {summary.get('imported', 0)} (новых клиентов: {counts.get('new', 0)}, "
        f"дополнено существующих: {counts.get('updated', 0)}, объединено с уже известными: {counts.get('merged', 0)}).",
        f"Отклонено: {counts.get('rejected', 0)}. Пропущено (заголовки, группы, итоги, пустые): {counts.get('skipped', 0)}.",
        f"Клиентов в файле: {summary.get('clients_in_file', 0)}; создано: {summary.get('clients_created', 0)}, "
        f"дополнено: {summary.get('clients_updated', 0)}.",
        f"Телефонов добавлено: {summary.get('phones_added', 0)}; автомобилей создано: {summary.get('vehicles_created', 0)}, "
        f"дополнено: {summary.get('vehicles_updated', 0)}; визитов в истории: "
        f"{summary.get('visits_created') if not summary.get('dry_run') else summary.get('visits_planned', 0)}.",
    ]
    if summary.get("conflicts_total"):
        lines.append(f"Расхождений с данными в базе (оставлены как есть): {summary['conflicts_total']}.")
    lines.extend(summary.get("notes", []))
    problems = summary.get("problems", [])
    if problems:
        lines.append("Проблемные строки:")
        for row in problems[:problem_rows]:
            text = row["reason"] if row["status"] == "rejected" else "; ".join(row["warnings"])
            label = "отклонена" if row["status"] == "rejected" else "предупреждение"
            lines.append(f"  {row['loc']}: {label} — {text}")
        if summary.get("problems_total", 0) > problem_rows:
            lines.append(f"  … и ещё {summary['problems_total'] - problem_rows}.")
    return lines
