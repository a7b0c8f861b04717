//! `declare_commands!`: the one declaration of Keyward's IPC commands.
//!
//! From the list in `commands.rs` it generates:
//! - each `#[tauri::command]` function (arguments adapted, one `ops` call in the body);
//! - [`crate::commands::handler`], the invoke handler given to the Tauri builder;
//! - [`crate::commands::COMMAND_NAMES`], from which `capabilities/default.json` is generated;
//! - [`crate::commands::typescript`], the TypeScript wrappers in `ui/src/lib/backend/commands.ts`.
//!
//! `build.rs` reads the same list (the `fn name(` lines of `commands.rs`) to generate the
//! `allow-<command>` permissions; a test checks that both readings agree.
//!
//! Syntax of one entry:
//! `fn name(app, shell, arg: Type, …; channel progress: Item) -> Ret { body }` where `body`
//! evaluates to `keyward_core::Result<Ret>` and may use `?`.

macro_rules! declare_commands {
    (
        $(
            $(#[doc = $doc:literal])*
            fn $name:ident ( $app:ident, $shell:ident $(, $arg:ident : $ty:ty)* $(; channel $ch:ident : $chty:ty)? ) -> $ret:ty $body:block
        )*
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

        /// Every command, in declaration order.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The invoke handler for `tauri::Builder::invoke_handler`.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
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
            out.finish()
        }
    };
}

pub(crate) use declare_commands;
