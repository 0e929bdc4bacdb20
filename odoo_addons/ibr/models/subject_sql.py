"""SQL snippets shared by the views: a subject's derived attributes (name, age band, areas)."""

# Until the core stores areas (`subjects.area_code`, `area_level_1..4`), they are read from the
# address of the record as received: Member `demographic_info.address[0]`, Group `address[0]`.
_ADDRESS_PATHS = ("{demographic_info,address,0,%s}", "{address,0,%s}")


def _from_address(alias, field):
    paths = ", ".join(f"{alias}.document #>> '{p.replace('%s', field)}'" for p in _ADDRESS_PATHS)
    return f"coalesce({paths})"


def subject_columns(column, alias="s"):
    """Select-list items describing the subject `alias` (a row of `ibr.subjects`)."""
    years = f"date_part('year', age(current_date, {alias}.birth_date))"
    level_1 = column(alias, "subjects", "area_level_1", "NULL")
    level_2 = column(alias, "subjects", "area_level_2", "NULL")
    area = column(alias, "subjects", "area_code", "NULL")
    return f"""
        {alias}.kind AS kind,
        {alias}.sex AS sex,
        {years}::int AS age,
        CASE WHEN {alias}.birth_date IS NULL THEN NULL
             WHEN {years} < 18 THEN 'child'
             WHEN {years} < 60 THEN 'working_age'
             ELSE 'older' END AS age_band,
        coalesce({level_1}, {_from_address(alias, "region_code")}) AS area_level_1,
        coalesce({level_2}, {_from_address(alias, "sub_region_code")}) AS area_level_2,
        coalesce({area}, {_from_address(alias, "sub_region_code")},
                 {_from_address(alias, "region_code")}) AS area_code
    """


AGE_BANDS = [("child", "0-17"), ("working_age", "18-59"), ("older", "60+")]
KINDS = [("person", "Person"), ("group", "Group")]
