//! The JSON API: each handler decodes, calls one `Chat` method, encodes.

use std::net::IpAddr;

use bytes::Bytes;
use chat_core::{Client, ConversationQuery, HistoryQuery, SearchPattern, SignupForm};
use hyper::header;
use hyper::{Request, Response, StatusCode};

use crate::ChatHttp;
use crate::auth::{
    Authenticated, clear_cookie, cookie, device_cookie, device_cookie_name, session_cookie,
};
use crate::error::HttpError;
use crate::request::Query;
use crate::response::{Body, empty, json};
use crate::wire::{
    ConversationDto, ConversationsBody, LoginBody, LoginRequest, MessageBody, MessageDto,
    MessagesBody, SendRequest, SignupRequest, StatusBody, UserBody, UserDto, UsersBody,
};

/// What a handler answers.
pub(crate) type Handled = Result<Response<Body>, HttpError>;

/// What [`ChatHttp::handle`] accepts as a request body: any hyper body of
/// `Bytes` (hyper's `Incoming`, `Full`, …).
pub trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send
{
}

impl<B> RequestBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
{
}

impl ChatHttp {
    pub(crate) async fn signup<B: RequestBody>(
        &self,
        request: Request<B>,
        client: IpAddr,
    ) -> Handled {
        if !self.config().password_accounts {
            return Err(HttpError::PasswordAccountsOff);
        }
        let form: SignupRequest = self.body(request).await?;
        let form = SignupForm {
            email: form.email,
            username: form.username,
            password: form.password,
            confirm_password: form.confirm_password,
        };
        let account = self.chat().signup(form, client).await?;
        let body = UserBody {
            user: UserDto::from(&account),
        };
        Ok(json(StatusCode::CREATED, &body))
    }

    pub(crate) async fn login<B: RequestBody>(
        &self,
        request: Request<B>,
        client: IpAddr,
    ) -> Handled {
        if !self.config().password_accounts {
            return Err(HttpError::PasswordAccountsOff);
        }
        let tls = self.config().tls;
        let cookie = cookie(request.headers(), device_cookie_name(tls));
        let form: LoginRequest = self.body(request).await?;
        let mut client = Client::new(client);
        if let Some(device) = form.device_token.or(cookie) {
            client = client.with_device(device);
        }
        let login = self
            .chat()
            .login(&form.username, form.password, client)
            .await?;
        let body = LoginBody {
            user: UserDto::from(&login.account),
            token: login.token.expose(),
            csrf_token: login.token.csrf_token(),
            device_token: login.device.expose(),
        };
        let mut response = json(StatusCode::OK, &body);
        let config = self.chat().config();
        let session = session_cookie(&login.token, config.session_absolute_timeout, tls)?;
        let device = device_cookie(&login.device, config.device_lifetime, self.config())?;
        let headers = response.headers_mut();
        headers.append(header::SET_COOKIE, session);
        headers.append(header::SET_COOKIE, device);
        Ok(response)
    }

    pub(crate) async fn logout(&self, auth: Authenticated) -> Handled {
        // A token the host application signed, or its own login, is no
        // session of ours: it ends with the host.
        let Some(token) = auth.token else {
            return Err(HttpError::BadParameter {
                field: "authorization",
                reason: "this session is the host application's (a token it signed, or its login): log out there",
            });
        };
        self.chat().logout(token.expose()).await?;
        let mut response = empty(StatusCode::NO_CONTENT);
        response
            .headers_mut()
            .insert(header::SET_COOKIE, clear_cookie(self.config().tls));
        Ok(response)
    }

    pub(crate) async fn me(&self, auth: Authenticated) -> Handled {
        let account = self.chat().account(&auth.session).await?;
        let body = UserBody {
            user: UserDto::from(&account),
        };
        Ok(json(StatusCode::OK, &body))
    }

    pub(crate) async fn conversations<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
    ) -> Handled {
        let query = Query::of(&request);
        let page = self
            .chat()
            .conversations(
                &auth.session,
                &ConversationQuery {
                    before: query.message_id("before")?,
                    limit: query.limit()?,
                },
            )
            .await?;
        let body = ConversationsBody {
            conversations: page.items.iter().map(ConversationDto::from).collect(),
            has_more: page.has_more,
        };
        Ok(json(StatusCode::OK, &body))
    }

    pub(crate) async fn users<B>(&self, auth: Authenticated, request: Request<B>) -> Handled {
        let query = Query::of(&request);
        let prefix = query.text("q").unwrap_or("");
        let users = self
            .chat()
            .directory(&auth.session, prefix, query.limit()?)
            .await?;
        let body = UsersBody {
            users: users.iter().map(UserDto::from).collect(),
        };
        Ok(json(StatusCode::OK, &body))
    }

    pub(crate) async fn history<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        peer: &str,
    ) -> Handled {
        let history = history_query(&Query::of(&request))?;
        let page = self.chat().history(&auth.session, peer, &history).await?;
        Ok(messages_page(&page))
    }

    pub(crate) async fn send<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        peer: &str,
    ) -> Handled {
        let form: SendRequest = self.body(request).await?;
        let sent = self
            .chat()
            .send_draft(&auth.session, peer, form.into_draft())
            .await?;
        self.note_active(&auth);
        Ok(self.sent(&sent))
    }

    /// A send's answer: 201 with the message stored now, 200 with the
    /// original for a known client id.
    pub(crate) fn sent(&self, sent: &chat_core::Sent) -> Response<Body> {
        let status = if sent.created {
            self.metrics().messages_sent.inc();
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let body = MessageBody {
            message: MessageDto::from(&sent.message),
        };
        json(status, &body)
    }

    pub(crate) async fn ready(&self) -> Handled {
        self.chat().check_ready().await?;
        Ok(json(StatusCode::OK, &StatusBody { status: "ready" }))
    }
}

/// The history query of a request: `before`, `after`, `limit`, `search`.
pub(crate) fn history_query(query: &Query) -> Result<HistoryQuery, HttpError> {
    Ok(HistoryQuery {
        before: query.message_id("before")?,
        after: query.message_id("after")?,
        limit: query.limit()?,
        search: query.text("search").map(SearchPattern::parse).transpose()?,
    })
}

/// A page of messages as the API answers it.
pub(crate) fn messages_page(page: &chat_core::Page<chat_core::Message>) -> Response<Body> {
    let body = MessagesBody {
        messages: page.items.iter().map(MessageDto::from).collect(),
        has_more: page.has_more,
    };
    json(StatusCode::OK, &body)
}
