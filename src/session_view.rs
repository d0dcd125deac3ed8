//! How the events of one session relate: which view an event happened in, what a view holds
//! (its resources, long tasks, errors, actions) and which action an error came from. Used by the
//! detail panel's drill-downs and by `session --format json`.

use crate::store::{SessionDetail, TimelineEvent};

/// The events that belong to one view, as indexes into [`SessionDetail::events`], in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewBreakdown {
    pub view: usize,
    pub resources: Vec<usize>,
    pub long_tasks: Vec<usize>,
    pub errors: Vec<usize>,
    pub actions: Vec<usize>,
}

impl SessionDetail {
    pub fn event_index(&self, event_pk: i64) -> Option<usize> {
        self.events.iter().position(|e| e.event_pk == event_pk)
    }

    /// The view an event happened in: the view with its `view_id`, else the last view that
    /// started at or before it (some exports drop `view_id` on child events).
    pub fn view_of(&self, index: usize) -> Option<usize> {
        ViewLookup::new(self).view_of(self, index)
    }

    /// The action an event (an error, a resource) was caused by, through its `action_id`.
    pub fn action_of(&self, index: usize) -> Option<usize> {
        let event = self.events.get(index)?;
        if event.kind == "action" {
            return None;
        }
        let action_id = event.get_str("action_id")?;
        self.events.iter().position(|e| e.kind == "action" && e.get_str("action_id") == Some(action_id))
    }

    pub fn view_breakdown(&self, view: usize) -> ViewBreakdown {
        let mut breakdown = ViewBreakdown { view, ..Default::default() };
        let lookup = ViewLookup::new(self);
        for (i, event) in self.events.iter().enumerate() {
            if event.kind == "view" || lookup.view_of(self, i) != Some(view) {
                continue;
            }
            match event.kind.as_str() {
                "resource" => breakdown.resources.push(i),
                "long_task" => breakdown.long_tasks.push(i),
                "error" => breakdown.errors.push(i),
                "action" => breakdown.actions.push(i),
                _ => {}
            }
        }
        breakdown
    }
}

/// Finds events' views in O(1) by id or O(log n) by time, so a session of thousands of events
/// is broken down in one pass.
struct ViewLookup<'a> {
    by_id: std::collections::HashMap<&'a str, usize>,
    /// (start, index) of every view, in time order.
    starts: Vec<(i64, usize)>,
}

impl<'a> ViewLookup<'a> {
    fn new(detail: &'a SessionDetail) -> Self {
        let mut by_id = std::collections::HashMap::new();
        let mut starts = Vec::new();
        for (i, event) in detail.events.iter().enumerate().filter(|(_, e)| e.kind == "view") {
            if let Some(id) = event.get_str("view_id") {
                by_id.entry(id).or_insert(i);
            }
            starts.push((event.time_ms, i));
        }
        starts.sort_unstable();
        ViewLookup { by_id, starts }
    }

    fn view_of(&self, detail: &SessionDetail, index: usize) -> Option<usize> {
        let event = detail.events.get(index)?;
        if event.kind == "view" {
            return Some(index);
        }
        if let Some(view) = event.get_str("view_id").and_then(|id| self.by_id.get(id)) {
            return Some(*view);
        }
        let after = self.starts.partition_point(|(t, _)| *t <= event.time_ms);
        after.checked_sub(1).map(|i| self.starts[i].1)
    }
}

impl TimelineEvent {
    /// Whether the timeline can step to this event: views, actions and errors always, the
    /// optional kinds when shown.
    pub fn is_time_point(&self, show_resources: bool, show_long_tasks: bool) -> bool {
        match self.kind.as_str() {
            "resource" => show_resources,
            "long_task" => show_long_tasks,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::FieldValue;
    use crate::store::{SessionDetail, SessionRow, TimelineEvent};

    fn event(pk: i64, kind: &str, time_ms: i64, fields: &[(&str, &str)]) -> TimelineEvent {
        TimelineEvent {
            event_pk: pk,
            kind: kind.into(),
            time_ms,
            fields: fields.iter().map(|(k, v)| (k.to_string(), FieldValue::Str(v.to_string()))).collect(),
        }
    }

    #[test]
    fn events_find_their_view_by_id_or_by_time() {
        let detail = SessionDetail {
            session: SessionRow::default(),
            events: vec![
                event(1, "view", 0, &[("view_id", "a")]),
                event(2, "resource", 10, &[("view_id", "a")]),
                event(3, "view", 100, &[("view_id", "b")]),
                // Late resource of view a, after view b started: the id decides.
                event(4, "resource", 120, &[("view_id", "a")]),
                event(5, "action", 130, &[("view_id", "b"), ("action_id", "x")]),
                event(6, "error", 140, &[("view_id", "b"), ("action_id", "x")]),
                // No view id: the view that was current.
                event(7, "long_task", 150, &[]),
            ],
        };
        let a = detail.view_breakdown(0);
        assert_eq!(a.resources, vec![1, 3]);
        let b = detail.view_breakdown(2);
        assert_eq!((b.actions, b.errors, b.long_tasks, b.resources), (vec![4], vec![5], vec![6], vec![]));
        assert_eq!(detail.action_of(5), Some(4));
        assert_eq!(detail.action_of(3), None);
        assert_eq!(detail.event_index(7), Some(6));
    }
}
