import { registry } from "@web/core/registry";

// An officer finds a person and opens "who receives what": every programme, its status, and
// the benefits with their total.
registry.category("web_tour.tours").add("ibr_find_person_who_receives_what", {
    steps: () => [
        {
            content: "Search the person by name",
            trigger: ".o_searchview_input",
            run: "edit Zawadi",
        },
        {
            content: "Run the search",
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Open the person",
            trigger: ".o_data_row .o_data_cell:contains(Zawadi Mwangi)",
            run: "click",
        },
        {
            content: "Every programme of the person is listed",
            trigger: ".o_field_widget[name=enrolment_ids] .o_data_row:contains(Old-age grant)",
        },
        {
            content: "with its status",
            trigger: ".o_field_widget[name=enrolment_ids] .o_data_row:contains(Suspended)",
        },
        {
            content: "Open the benefits",
            trigger: ".o_notebook .nav-link:contains(Benefits)",
            run: "click",
        },
        {
            content: "The benefits add up",
            trigger: ".o_field_widget[name=benefit_ids] tfoot:contains(75.50)",
        },
    ],
});

// An officer resolves an overlap case: a social pension and a disability grant held by one
// person; the decision is recorded on the case.
registry.category("web_tour.tours").add("ibr_resolve_overlap_case", {
    steps: () => [
        {
            content: "Open the overlap case of the person",
            trigger: ".o_data_row .o_data_cell:contains(Amani Kariuki)",
            run: "click",
        },
        {
            content: "The two programmes the rules exclude are shown",
            trigger: ".o_form_view .o_inner_group:contains(OAP):contains(DSG)",
        },
        {
            content: "Decide: a false positive",
            trigger: ".o_form_view .o_statusbar_buttons button:contains(False positive)",
            run: "click",
        },
        {
            content: "The decision is recorded",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(False positive)",
        },
    ],
});

// A manager reads coverage: enrolments by programme and region, then by status.
registry.category("web_tour.tours").add("ibr_read_coverage", {
    steps: () => [
        {
            content: "Coverage by programme",
            trigger: ".o_pivot .o_pivot_header_cell_closed:contains(Old-age grant), .o_pivot th:contains(Old-age grant)",
        },
        {
            content: "and by region",
            trigger: ".o_pivot th:contains(R1)",
        },
        {
            content: "Switch to the graph",
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "The graph is drawn",
            trigger: ".o_graph_renderer canvas",
        },
    ],
});

// An officer resolves a duplicate case: one person holding two records of one programme; the
// decision is recorded on the case.
registry.category("web_tour.tours").add("ibr_resolve_duplicate_case", {
    steps: () => [
        {
            content: "Open the duplicate case of the two records",
            trigger: ".o_data_row .o_data_cell:contains(B-5301-1)",
            run: "click",
        },
        {
            content: "Both records of the programme are shown",
            trigger: ".o_form_view .o_inner_group:contains(B-5301-1):contains(B-5301-2)",
        },
        {
            content: "Decide: confirmed",
            trigger: ".o_form_view .o_statusbar_buttons button:contains(Confirm)",
            run: "click",
        },
        {
            content: "The decision is recorded",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Confirmed)",
        },
    ],
});
