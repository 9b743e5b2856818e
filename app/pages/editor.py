"""SLA editor: edit a definitions file, validated as you type; diff; dry run against the stored
history next to the current version; save (editors only) with a recorded version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import auth, data, editor
from app import figures as fx

DRY_RUN_DAYS = {"7 days": 7, "30 days": 30}

user = auth.page_user(__file__)
tz = st.session_state.get("tz", "UTC")
st.title("SLA editor")
if not user.can_edit:
    st.info(f"Read-only: {user.name} has the {user.role} role, so this page shows the "
            "definitions, their diff and dry runs, but cannot change them. Editors sign in "
            "with a user made by `baton users add NAME --role editor`.",
            icon=":material/lock:")

files = editor.sla_files(data.config_dir())
if not files:
    st.info(f"No SLA files in {data.config_dir()}/slas/; add one (see config/slas/leads.yaml "
            "in the repository) and reload.")
    st.stop()
name = st.selectbox("File", list(files), format_func=lambda path: Path(path).name)
on_disk = files[name]
base_key = f"editor-base:{name}"
st.session_state.setdefault(base_key, on_disk)
if st.session_state[base_key] != on_disk:
    st.warning(f"{name} changed on disk since you opened it (someone saved). Reload to edit the "
               "new text; saving your edit now would be refused.")
    if st.button("Reload the file"):
        st.session_state[base_key] = on_disk
        st.session_state.pop(f"editor-text:{name}", None)
        st.rerun()

st.html("<style>.stTextArea textarea {font-family: ui-monospace, monospace;}</style>")
text = st.text_area("Definitions (YAML)", value=st.session_state[base_key], height=480,
                    disabled=not user.can_edit,
                    key=f"editor-text:{name}",
                    help="Validated on every change (press Ctrl+Enter or click outside).")
errors = editor.validate(files, name, text)
if errors:
    st.error(f"{len(errors)} error(s) — the same messages as `baton validate`:")
    st.code("\n".join(errors), language=None, wrap_lines=True)
else:
    st.success("Valid: every file checks out together, as `baton validate` would say.",
               icon=":material/check_circle:")

change = editor.diff(on_disk, text, name)
diff_tab, dry_tab, save_tab = st.tabs(["Diff", "Dry run", "Save"])
with diff_tab:
    if change:
        st.code(change, language="diff")
    else:
        st.caption("No changes yet.")

with dry_tab:
    if errors:
        st.caption("Fix the errors to run a dry run.")
    else:
        changed = editor.changed_slas(files, name, text)
        options = list(dict.fromkeys(changed + editor.file_slas(text)))
        picked = st.multiselect("SLAs to dry-run", options,
                                default=changed or options[:1],
                                help="Changed SLAs are picked for you.")
        unindexed = editor.unindexed_attributes(files, name, text)
        if unindexed:
            st.warning(f"`where` on {', '.join(unindexed)} is new: the store indexes it from the "
                       "first evaluation after saving, so this dry run cannot match it yet.")
        days = DRY_RUN_DAYS[st.radio("Over the last", list(DRY_RUN_DAYS), horizontal=True)]
        if st.button("Run dry run", type="primary", disabled=not picked):
            until = (data.last_evaluated() or data.now_minute()) // data.HOUR_US * data.HOUR_US
            with st.spinner("Evaluating every 6 hours over the stored history…"):
                st.session_state["dry-run"] = (tuple(picked), data.dry_run(
                    {**files, name: text}, picked, until, days))
        result = st.session_state.get("dry-run")
        if result is not None and set(result[0]) <= set(options):
            for sla in result[0]:
                points = result[1][result[1]["sla"] == sla]
                st.markdown(f"**{sla}**")
                if points.empty:
                    st.caption("Not in either version.")
                    continue
                objectives = points.groupby("version")["objective"].first().to_dict()
                st.plotly_chart(fx.dry_run_chart(points, objectives, tz), width="stretch")
                summary = []
                for version, rows in points.groupby("version", sort=True):
                    periods = editor.breach_periods(rows)
                    summary.append({
                        "Version": version, "SLI at the end": fx.fmt_percent(
                            rows["sli"].iloc[-1]),
                        "Worst SLI": fx.fmt_percent(rows["sli"].min()),
                        "Status at the end": fx.STATUS_LABELS[rows["status"].iloc[-1]],
                        "Breached evaluations": int((rows["status"] == "breached").sum()),
                        "Breach periods": "; ".join(
                            f"{fx.fmt_time(a, tz)} – {fx.fmt_time(b, tz)}"
                            for a, b in periods) or "none"})
                st.dataframe(pd.DataFrame(summary), hide_index=True, width="stretch")
            st.caption("Dry runs store nothing. They measure journeys with the stage table the "
                       "evaluator keeps; edits to journey stages or new `where` attributes "
                       "take effect on the next evaluation after saving.")

with save_tab:
    message = st.text_input("What changed, and why", placeholder="e.g. relax routing to 10m "
                            "during the CRM migration")
    if st.button("Save", type="primary", disabled=not user.can_edit or bool(errors)
                 or not change):
        try:
            saved = editor.save(data.store(), files, name, text, user, message,
                                expected=st.session_state[base_key])
        except editor.Invalid as exc:
            st.error(f"Not saved: {exc}")
        except editor.EditorError as exc:
            st.error(f"Not saved: {exc}")
        else:
            st.session_state[base_key] = text
            data.clear()
            st.success(f"Saved {Path(name).name} as version {saved.version_id}. The "
                       "evaluator picks it up on its next run.", icon=":material/save:")
    if not user.can_edit:
        st.caption("Only editors may save.")
