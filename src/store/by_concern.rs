//! The `impl Store` of a backend split by concern, as `sqlite/` and `postgres/` are: every
//! method is passed to the function of the same name, with the same arguments, in the
//! backend's `timeline`, `journal`, `claims`, `schedules` or `control` file. Written once, so
//! the index of which file does what is the same for both backends; the backend's `mod.rs`
//! calls `store_by_concern!(ItsStore)` with the store's types in scope.

/// `impl Store for $store`, each method passed to its concern's file (see the module doc).
macro_rules! store_by_concern {
    ($store:ty) => {
        impl $crate::store::Store for $store {
            async fn tell(&self, t: Telling<'_>, now: jiff::Timestamp) -> Result<Told> {
                timeline::tell(self, t, now).await
            }

            async fn incident(&self, id: &str) -> Result<Option<IncidentRow>> {
                timeline::incident(self, id).await
            }

            async fn incidents(&self) -> Result<Vec<IncidentRow>> {
                timeline::incidents(self).await
            }

            async fn incident_with_timeline(&self, id: &str) -> Result<Option<Incident>> {
                timeline::incident_with_timeline(self, id).await
            }

            async fn latest_update(&self, incident: Option<&str>) -> Result<Option<Update>> {
                timeline::latest_update(self, incident).await
            }

            async fn updates(&self, incident: &str) -> Result<Vec<Update>> {
                timeline::updates(self, incident).await
            }

            async fn update(&self, id: i64) -> Result<Option<Update>> {
                timeline::update(self, id).await
            }

            async fn retries_due(&self, now: jiff::Timestamp) -> Result<Vec<i64>> {
                journal::retries_due(self, now).await
            }

            async fn plan(
                &self,
                update: i64,
                batch: &PlanBatch,
                now: jiff::Timestamp,
            ) -> Result<Vec<usize>> {
                journal::plan(self, update, batch, now).await
            }

            async fn finish_plan(&self, update: i64) -> Result<()> {
                journal::finish_plan(self, update).await
            }

            async fn recover(
                &self,
                update: i64,
                channel: &str,
                resend: bool,
                now: jiff::Timestamp,
            ) -> Result<Vec<String>> {
                journal::recover(self, update, channel, resend, now).await
            }

            async fn claim(
                &self,
                update: i64,
                channel: &str,
                limit: u32,
                now: jiff::Timestamp,
            ) -> Result<Vec<Delivery>> {
                claims::claim(self, update, channel, limit, now).await
            }

            async fn record(
                &self,
                outcomes: &[(i64, Outcome)],
                begin: &[i64],
                now: jiff::Timestamp,
            ) -> Result<Vec<i64>> {
                journal::record(self, outcomes, begin, now).await
            }

            async fn next_due(
                &self,
                update: i64,
                channel: &str,
            ) -> Result<Option<jiff::Timestamp>> {
                journal::next_due(self, update, channel).await
            }

            async fn counts(&self, update: i64) -> Result<BTreeMap<String, Counts>> {
                journal::counts(self, update).await
            }

            async fn failures(&self, update: i64, limit: u32) -> Result<Vec<Failure>> {
                journal::failures(self, update, limit).await
            }

            async fn bad_rows(&self, update: i64, limit: u32) -> Result<(u64, Vec<BadRow>)> {
                journal::bad_rows(self, update, limit).await
            }

            async fn requeue_failed(&self, update: i64, now: jiff::Timestamp) -> Result<u64> {
                journal::requeue_failed(self, update, now).await
            }

            async fn start_run(
                &self,
                update: i64,
                me: &Run,
                stale_after_ms: i64,
            ) -> Result<std::result::Result<(), Run>> {
                control::start_run(self, update, me, stale_after_ms).await
            }

            async fn runs(&self, update: i64) -> Result<Vec<Run>> {
                control::runs(self, update).await
            }

            async fn many_senders(&self) -> bool {
                claims::MANY_SENDERS
            }

            async fn own_channel(&self, channel: &str, now: jiff::Timestamp) -> Result<bool> {
                claims::own_channel(self, channel, now).await
            }

            async fn release_channel(&self, channel: &str) -> Result<()> {
                claims::release_channel(self, channel).await
            }

            async fn enqueue(&self, update: i64) -> Result<()> {
                control::enqueue(self, update).await
            }

            async fn queued_due(&self, now: jiff::Timestamp) -> Result<Vec<i64>> {
                claims::queued_due(self, now).await
            }

            async fn heartbeat(
                &self,
                update: i64,
                pid: u32,
                host: &str,
                now: jiff::Timestamp,
            ) -> Result<()> {
                control::heartbeat(self, update, pid, host, now).await
            }

            async fn end_run(&self, update: i64, pid: u32, host: &str) -> Result<()> {
                control::end_run(self, update, pid, host).await
            }

            async fn halt(&self, scope: &str, now: jiff::Timestamp) -> Result<()> {
                control::halt(self, scope, now).await
            }

            async fn resume(&self, scope: &str) -> Result<bool> {
                control::resume(self, scope).await
            }

            async fn halted(&self, incident: &str) -> Result<bool> {
                control::halted(self, incident).await
            }

            async fn add_schedule(
                &self,
                new: &NewSchedule,
                now: jiff::Timestamp,
            ) -> Result<Schedule> {
                schedules::add_schedule(self, new, now).await
            }

            async fn add_holding(
                &self,
                new: &NewSchedule,
                now: jiff::Timestamp,
            ) -> Result<Option<Schedule>> {
                schedules::add_holding(self, new, now).await
            }

            async fn promises_due(&self, until: jiff::Timestamp) -> Result<Vec<Update>> {
                schedules::promises_due(self, until).await
            }

            async fn take_nudge(
                &self,
                about: &str,
                channel: &str,
                incident: &str,
                now: jiff::Timestamp,
                retry_after_ms: i64,
                max_attempts: u32,
            ) -> Result<bool> {
                schedules::take_nudge(
                    self,
                    about,
                    channel,
                    incident,
                    now,
                    retry_after_ms,
                    max_attempts,
                )
                .await
            }

            async fn end_nudge(
                &self,
                about: &str,
                channel: &str,
                error: Option<&str>,
                now: jiff::Timestamp,
            ) -> Result<()> {
                schedules::end_nudge(self, about, channel, error, now).await
            }

            async fn failed_schedules(&self, max_attempts: u32) -> Result<Vec<Schedule>> {
                schedules::failed_schedules(self, max_attempts).await
            }

            async fn schedule(&self, id: i64) -> Result<Option<Schedule>> {
                schedules::schedule(self, id).await
            }

            async fn schedules(&self, incident: Option<&str>) -> Result<Vec<Schedule>> {
                schedules::schedules(self, incident).await
            }

            async fn due_schedules(&self, now: jiff::Timestamp) -> Result<Vec<Schedule>> {
                schedules::due_schedules(self, now).await
            }

            async fn cancel_schedule(
                &self,
                id: i64,
                now: jiff::Timestamp,
            ) -> Result<Option<Schedule>> {
                schedules::cancel_schedule(self, id, now).await
            }

            async fn start_schedule(
                &self,
                id: i64,
                t: Telling<'_>,
                now: jiff::Timestamp,
            ) -> Result<Option<Told>> {
                schedules::start_schedule(self, id, t, now).await
            }

            async fn end_schedule(
                &self,
                id: i64,
                state: ScheduleState,
                error: Option<&str>,
                now: jiff::Timestamp,
            ) -> Result<bool> {
                schedules::end_schedule(self, id, state, error, now).await
            }

            async fn totals(&self) -> Result<BTreeMap<(String, String), u64>> {
                journal::totals(self).await
            }

            async fn set_maintenance(&self, on: Option<&Maintenance>) -> Result<()> {
                control::set_maintenance(self, on).await
            }

            async fn maintenance(&self) -> Result<Option<Maintenance>> {
                control::maintenance(self).await
            }

            async fn audit(
                &self,
                actor: &str,
                command: &str,
                detail: &str,
                now: jiff::Timestamp,
            ) -> Result<()> {
                control::audit(self, actor, command, detail, now).await
            }
        }
    };
}

pub(crate) use store_by_concern;
