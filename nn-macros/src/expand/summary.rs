//! The Keras-style summary table, `Name::SUMMARY`.

use super::inference::{Budget, STACK_BUDGET};
use crate::model::{Network, OpKind};

/// The table: one row per layer and residual join, with output shapes, parameters and MACs,
/// then the totals and where inference keeps its activations.
pub fn table(net: &Network, budget: &Budget) -> String {
    let mut rows = vec![(
        "input (Input)".to_string(),
        net.input.to_string(),
        "0".to_string(),
        "0".to_string(),
    )];
    for op in &net.ops {
        match op.kind {
            OpKind::Layer(i) => {
                let l = &net.layers[i];
                rows.push((
                    format!("{} ({})", l.name, l.kind_name),
                    l.output.to_string(),
                    thousands(l.params),
                    thousands(l.macs),
                ));
            }
            OpKind::Add => rows.push((
                format!("{} (Residual add)", op.label),
                net.tensors[op.output].to_string(),
                "0".to_string(),
                "0".to_string(),
            )),
        }
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(12);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(12);
    let mut s = format!("Model: {}\n", net.name);
    let header = format!(
        "{:<w0$}  {:<w1$}  {:>10}  {:>12}",
        "Layer (type)", "Output shape", "Params", "MACs"
    );
    let rule = "-".repeat(header.len());
    s += &format!("{rule}\n{header}\n{rule}\n");
    for r in &rows {
        s += &format!("{:<w0$}  {:<w1$}  {:>10}  {:>12}\n", r.0, r.1, r.2, r.3);
    }
    s += &format!(
        "{rule}\nTotal params: {}\nTotal MACs: {}\n",
        thousands(net.params()),
        thousands(net.macs())
    );
    s += &match &budget.workspace {
        None => format!(
            "Stack per call: {} bytes (activations on the stack)\n",
            thousands(budget.stack_bytes)
        ),
        Some((ws, _)) => format!(
            "Stack per call: {} bytes; activations in {ws}: {} bytes (over the {}-byte stack budget)\n",
            thousands(budget.stack_bytes),
            thousands(budget.activation_bytes),
            thousands(STACK_BUDGET)
        ),
    };
    s
}

/// `1234567` as `1,234,567`.
pub(super) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
