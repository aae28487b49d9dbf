//! The SMTP send test after a successful login: does the server take the user's
//! envelope? `MAIL FROM` (RFC 5321 §4.1.1.2) and `RCPT TO` (§4.1.1.3), then `RSET`
//! (§4.1.1.5) so that nothing is sent, or, only when the user supplied a message,
//! `DATA` (§4.1.1.4), the message made transparent (§4.5.2) and the final dot.

use super::{Reply, Smtp, State};
use crate::proto::Step;
use crate::report::SendOutcome;

impl Smtp {
    /// Starts the envelope test when one was asked for, else QUIT.
    pub(super) fn start_send_test(&mut self) -> Step {
        let Some(test) = &self.send_test else {
            return self.quit();
        };
        let mut outcome = SendOutcome::default();
        // An address that could end the command line or its angle brackets would
        // smuggle another command in: refuse it rather than send it.
        if [&test.from, &test.to]
            .iter()
            .any(|a| a.contains(['\r', '\n', '\0', '<', '>']))
        {
            outcome.mail_from = Some(
                "(mailcheck did not send MAIL FROM: an address holds CR, LF, NUL, < or >)"
                    .to_owned(),
            );
            self.session.send = Some(outcome);
            return self.quit();
        }
        let command = format!("MAIL FROM:<{}>\r\n", test.from);
        self.session.send = Some(outcome);
        self.send(command, State::Mail)
    }

    fn outcome(&mut self) -> &mut SendOutcome {
        self.session.send.get_or_insert_with(SendOutcome::default)
    }

    /// RSET ends the transaction without sending anything (§4.1.1.5).
    fn rset(&mut self) -> Step {
        self.send("RSET\r\n".to_owned(), State::Rset)
    }

    pub(super) fn on_mail(&mut self, reply: &Reply) -> Step {
        self.outcome().mail_from = Some(reply.text());
        match &self.send_test {
            Some(test) if reply.class() == 2 => {
                let command = format!("RCPT TO:<{}>\r\n", test.to);
                self.send(command, State::Rcpt)
            }
            _ => self.rset(),
        }
    }

    /// RCPT accepted: DATA only when there is a message to deliver, else RSET.
    pub(super) fn on_rcpt(&mut self, reply: &Reply) -> Step {
        let accepted = reply.class() == 2;
        let outcome = self.outcome();
        outcome.rcpt_to = Some(reply.text());
        outcome.accepted = accepted;
        let has_message = self.send_test.as_ref().is_some_and(|t| t.message.is_some());
        if accepted && has_message {
            self.send("DATA\r\n".to_owned(), State::Data)
        } else {
            self.rset()
        }
    }

    /// 354 asks for the message (§4.1.1.4); anything else refuses it.
    pub(super) fn on_data(&mut self, reply: &Reply) -> Step {
        let message = self.send_test.as_ref().and_then(|t| t.message.as_deref());
        match message {
            Some(message) if reply.code == 354 => {
                let block = data_block(message);
                self.send(block, State::Message)
            }
            _ => {
                self.outcome().data = Some(reply.text());
                self.rset()
            }
        }
    }

    /// The verdict on the message itself; the transaction is over.
    pub(super) fn on_message(&mut self, reply: &Reply) -> Step {
        self.outcome().data = Some(reply.text());
        self.quit()
    }
}

/// The message as DATA sends it: every line ending in CRLF, a line that starts
/// with "." given another one (§4.5.2), then the terminating `.` line.
///
/// Bare CR and bare LF become CRLF first (§2.3.8 allows no other line ending), so
/// no sequence in the message can end the data early on a lenient server (the
/// "SMTP smuggling" class of bugs).
pub(super) fn data_block(message: &str) -> String {
    let normalised = message.replace("\r\n", "\n").replace('\r', "\n");
    let body = normalised.strip_suffix('\n').unwrap_or(&normalised);
    let mut out = String::with_capacity(body.len() + 16);
    if !body.is_empty() {
        for line in body.split('\n') {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(".\r\n");
    out
}
