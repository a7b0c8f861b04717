//! `declare_commands!`: Keyward's IPC commands, from the shell's own list and the core's.
//!
//! `commands.rs` calls `keyward_core::operations!(declare_commands { shell entries })`, which
//! hands this macro the shell's entries followed by `ops { the core's operations }`. From both
//! it generates:
//! - each `#[tauri::command]` function (a shell entry's body, or a core operation's body over
//!   the open session's context);
//! - [`crate::commands::handler`], the invoke handler given to the Tauri builder;
//! - [`crate::commands::COMMAND_NAMES`], from which `capabilities/default.json` is generated;
//! - [`crate::commands::typescript`], the TypeScript wrappers in `ui/src/lib/backend/commands.ts`.
//!
//! `build.rs` reads the same lists (the `fn name(` lines of `commands.rs` and of the core's
//! `operations.rs`) to generate the `allow-<command>` permissions; a test checks that both
//! readings agree.
//!
//! Syntax of a shell entry:
//! `fn name(app, shell, arg: Type, …; channel progress: Item) -> Ret { body }` where `body`
//! evaluates to `keyward_core::Result<Ret>` and may use `?`. A core entry is
//! `#[role(…)] fn name(ctx, arg: Type, …) -> Ret { body }` (see `keyward_core::operations`; the
//! role matters on a Keyward Server only and is ignored here).

macro_rules! declare_commands {
    (
        $(
            $(#[doc = $doc:literal])*
            fn $name:ident ( $app:ident, $shell:ident $(, $arg:ident : $ty:ty)* $(; channel $ch:ident : $chty:ty)? ) -> $ret:ty $body:block
        )*
        ops {
            $(
                $(#[doc = $odoc:literal])*
                #[role($orole:ident)]
                fn $oname:ident ( $octx:ident $(, $oarg:ident : $oty:ty)* ) -> $oret:ty $obody:block
            )*
        }
    ) => {
        $(
            $(#[doc = $doc])*
            #[tauri::command(rename_all = "snake_case")]
            #[allow(unused_variables, clippy::unused_async)]
            pub async fn $name(
                $app: tauri::AppHandle,
                $shell: tauri::State<'_, crate::shell::Shell>,
                $($arg: $ty,)*
                $($ch: tauri::ipc::Channel<$chty>,)?
            ) -> Result<$ret, keyward_core::Error> {
                let result: keyward_core::Result<$ret> = async $body.await;
                if let Err(e) = &result {
                    log::warn!("{} failed: {} ({})", stringify!($name), e.message, e.code);
                }
                result
            }
        )*
        $(
            $(#[doc = $odoc])*
            #[tauri::command(rename_all = "snake_case")]
            pub async fn $oname(
                shell: tauri::State<'_, crate::shell::Shell>,
                $($oarg: $oty,)*
            ) -> Result<$oret, keyward_core::Error> {
                // One dispatch for local and team profiles: keyward_core::api runs the
                // operation on the team's Keyward Server, or its own body here.
                let result: keyward_core::Result<$oret> = async {
                    let session = shell.ctx().await?;
                    keyward_core::api::$oname(&session $(, $oarg)*).await
                }
                .await;
                if let Err(e) = &result {
                    log::warn!("{} failed: {} ({})", stringify!($oname), e.message, e.code);
                }
                result
            }
        )*

        /// Every command, in declaration order: the shell's, then the core's operations.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name),)* $(stringify!($oname)),*];

        /// The invoke handler for `tauri::Builder::invoke_handler`.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name,)* $($oname),*]
        }

        /// The TypeScript wrappers, one per command (`make bindings` writes them).
        pub fn typescript() -> String {
            let mut out = crate::tsgen::Writer::new(COMMAND_NAMES);
            $(
                out.command(
                    stringify!($name),
                    &[$((stringify!($arg), <$ty as ts_rs::TS>::name())),*],
                    None::<(&str, String)> $( .or(Some((stringify!($ch), <$chty as ts_rs::TS>::name()))) )?,
                    <$ret as ts_rs::TS>::name(),
                    concat!($($doc, "\n"),*),
                );
            )*
            $(
                out.command(
                    stringify!($oname),
                    &[$((stringify!($oarg), <$oty as ts_rs::TS>::name())),*],
                    None,
                    <$oret as ts_rs::TS>::name(),
                    concat!($($odoc, "\n"),*),
                );
            )*
            out.finish()
        }
    };
}

pub(crate) use declare_commands;
