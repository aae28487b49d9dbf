fn main() {
    println!("mailcheck");
}
